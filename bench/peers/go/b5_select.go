// B5 select in Go (BENCHMARKS.md), the peer of bench/programs/b5_select.cpp: 4 producers
// each send 250,000 ints on their own unbuffered channel; one consumer selects over the 4.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

func producer(out chan<- int, count int) {
	for i := 0; i < count; i++ {
		out <- i
	}
}

func main() {
	perProducer := 250000
	if len(os.Args) > 1 && os.Args[1] == "--smoke" {
		perProducer = 1000
	}
	runtime.GOMAXPROCS(1) // one scheduler thread, like the stackless figure
	total := 4 * perProducer
	c0, c1, c2, c3 := make(chan int), make(chan int), make(chan int), make(chan int)
	start := time.Now()
	go producer(c0, perProducer)
	go producer(c1, perProducer)
	go producer(c2, perProducer)
	go producer(c3, perProducer)
	sum := 0
	for received := 0; received < total; received++ {
		select {
		case v := <-c0:
			sum += v
		case v := <-c1:
			sum += v
		case v := <-c2:
			sum += v
		case v := <-c3:
			sum += v
		}
	}
	elapsed := time.Since(start)
	if sum != 4*perProducer*(perProducer-1)/2 {
		fmt.Fprintln(os.Stderr, "b5: lost or duplicated messages")
		os.Exit(1)
	}
	fmt.Println("impl,bench,param,metric,value,unit")
	fmt.Printf("go,B5,%d,per_message,%.1f,ns\n", total, float64(elapsed.Nanoseconds())/float64(total))
}
