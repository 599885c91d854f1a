// Go peers of B16 pipeline and B17 fan-out (issue 14), printing the same CSV:
//   go run components.go [--smoke]
// B16: 10 goroutines in a pipeline over channels of 64 (a source, 8 stages adding one, a
// counting sink), 1,000,000 ints: ns per message per link (9 links).
// B17: a broadcaster goroutine sends each of 2,000 messages to 1,000 subscriber goroutines,
// each passing it on to its own counting sink (as a backplane, subscribe_to and a sink):
// deliveries per second. GOMAXPROCS=1, as our single scheduler.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

func b16(messages int) {
	links := make([]chan uint64, 9)
	for i := range links {
		links[i] = make(chan uint64, 64)
	}
	done := make(chan int)
	start := time.Now()
	go func() {
		for i := 0; i < messages; i++ {
			links[0] <- uint64(i)
		}
		close(links[0])
	}()
	for i := 0; i < 8; i++ {
		go func(in, out chan uint64) {
			for x := range in {
				out <- x + 1
			}
			close(out)
		}(links[i], links[i+1])
	}
	go func() {
		n := 0
		for range links[8] {
			n++
		}
		done <- n
	}()
	if n := <-done; n != messages {
		fmt.Fprintf(os.Stderr, "b16: %d messages arrived, not %d\n", n, messages)
		os.Exit(1)
	}
	elapsed := float64(time.Since(start).Nanoseconds())
	fmt.Printf("go,B16,10,message_link,%.2f,ns\n", elapsed/float64(messages)/9)
}

func b17(subscribers, messages int) {
	published := make(chan uint64, 64)
	outs := make([]chan uint64, subscribers)
	done := make(chan int, subscribers)
	start := time.Now()
	for i := range outs {
		outs[i] = make(chan uint64, 64)
		sink := make(chan uint64, 64)
		go func(in, out chan uint64) {
			for x := range in {
				out <- x
			}
			close(out)
		}(outs[i], sink)
		go func(in chan uint64) {
			n := 0
			for range in {
				n++
			}
			done <- n
		}(sink)
	}
	go func() {
		for x := range published {
			for _, out := range outs {
				out <- x
			}
		}
		for _, out := range outs {
			close(out)
		}
	}()
	go func() {
		for i := 0; i < messages; i++ {
			published <- uint64(i)
		}
		close(published)
	}()
	delivered := 0
	for i := 0; i < subscribers; i++ {
		delivered += <-done
	}
	if delivered != subscribers*messages {
		fmt.Fprintf(os.Stderr, "b17: %d deliveries, not %d\n", delivered, subscribers*messages)
		os.Exit(1)
	}
	elapsed := time.Since(start).Seconds()
	fmt.Printf("go,B17,%d,throughput,%.0f,deliveries/s\n", subscribers, float64(delivered)/elapsed)
}

func main() {
	smoke := len(os.Args) > 1 && os.Args[1] == "--smoke"
	runtime.GOMAXPROCS(1)
	fmt.Println("impl,bench,param,metric,value,unit")
	if smoke {
		b16(1000)
		b17(10, 100)
	} else {
		b16(1000000)
		b17(1000, 2000)
	}
}
