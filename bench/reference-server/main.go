// The reference server: the least an HTTP -> Kafka server can do for Qalqan's load, as the measured
// limit of HTTP -> Kafka on the machine the benchmark runs on. It checks a bearer token in constant
// time, checks that the body is well-formed JSON (an object, or an array of objects), produces one
// Kafka record per event with acks=all, and answers 202 only once the broker acknowledged every one.
// No validation of fields, normalisation or enrichment: whatever Qalqan's collector does beyond
// this is what its figures are held against in bench/RESULTS.md.
//
//	reference-server -listen 127.0.0.1:PORT -brokers HOST:PORT -topic TOPIC -tokens TOKEN,TOKEN
package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/twmb/franz-go/pkg/kgo"
)

const maxBody = 5 << 20

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap broker")
	topic := flag.String("topic", "qalqan.events", "topic to produce to")
	tokens := flag.String("tokens", "", "comma-separated bearer tokens that sensors may send")
	flag.Parse()

	client, err := kgo.NewClient(
		kgo.SeedBrokers(*brokers),
		kgo.DefaultProduceTopic(*topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		log.Fatalf("kafka client: %v", err)
	}
	defer client.Close()
	if err := client.Ping(context.Background()); err != nil {
		log.Fatalf("kafka ping: %v", err)
	}

	var wanted [][]byte
	for _, token := range strings.Split(*tokens, ",") {
		if token != "" {
			wanted = append(wanted, []byte("Bearer "+token))
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("/v1/events", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, `{"error":"method"}`, http.StatusMethodNotAllowed)
			return
		}
		if !known([]byte(r.Header.Get("Authorization")), wanted) {
			http.Error(w, `{"error":"token"}`, http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			http.Error(w, `{"error":"body"}`, http.StatusRequestEntityTooLarge)
			return
		}
		events, ok := split(body)
		if !ok {
			http.Error(w, `{"error":"not JSON objects"}`, http.StatusBadRequest)
			return
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed error
		wg.Add(len(events))
		for _, event := range events {
			client.Produce(r.Context(), &kgo.Record{Value: event}, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
				wg.Done()
			})
		}
		wg.Wait()
		if failed != nil {
			http.Error(w, `{"error":"kafka"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"accepted":%d,"rejected":[]}`, len(events))
	})

	server := &http.Server{Addr: *listen, Handler: mux}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		server.Shutdown(context.Background())
	}()
	// Listen first, so the port the OS chose is printed before serving.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := server.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("serve: %v", err)
	}
}

// known compares the header with every token in constant time, as Qalqan compares token hashes.
func known(header []byte, wanted [][]byte) bool {
	found := 0
	for _, want := range wanted {
		found |= subtle.ConstantTimeCompare(header, want)
	}
	return found == 1
}

// split checks that the body is one JSON object or an array of them and returns each object's text.
func split(body []byte) ([][]byte, bool) {
	if !json.Valid(body) {
		return nil, false
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		var one json.RawMessage
		if json.Unmarshal(body, &one) != nil || len(one) == 0 || one[0] != '{' {
			return nil, false
		}
		return [][]byte{one}, true
	}
	events := make([][]byte, len(raws))
	for i, raw := range raws {
		if len(raw) == 0 || raw[0] != '{' {
			return nil, false
		}
		events[i] = raw
	}
	return events, true
}
