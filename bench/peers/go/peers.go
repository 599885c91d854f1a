// Go peers of the stackless benchmarks (BENCHMARKS.md), printing the same CSV:
//   go run peers.go b1|b2|b3|b4|b7|b11 [--smoke]
// B1 spawn-idle, B2 ping-pong, B3 ring, B4 robots, B7 two cores (pairs on GOMAXPROCS 1
// and 2).
// B5 is b5_select.go. Goroutines run with GOMAXPROCS=1 unless the benchmark says otherwise.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sort"
	"sync"
	"syscall"
	"time"
)

func residentBytes() int64 { return statusBytes("VmRSS:") }

// peakResidentBytes: the most this process has had resident so far (VmHWM).
func peakResidentBytes() int64 { return statusBytes("VmHWM:") }

func statusBytes(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), field) {
			fields := strings.Fields(s.Text())
			kib, _ := strconv.ParseInt(fields[1], 10, 64)
			return kib * 1024
		}
	}
	return 0
}

func b1(sizes []int) {
	for _, n := range sizes {
		ch := make(chan int)
		var started sync.WaitGroup
		started.Add(n)
		before := residentBytes()
		start := time.Now()
		for i := 0; i < n; i++ {
			go func() {
				started.Done()
				<-ch
			}()
		}
		started.Wait()
		runtime.Gosched()
		elapsed := time.Since(start)
		after := residentBytes()
		fmt.Printf("go,B1,%d,spawn,%.1f,ns\n", n, float64(elapsed.Nanoseconds())/float64(n))
		fmt.Printf("go,B1,%d,rss_per_tasklet,%.1f,bytes\n", n, float64(after-before)/float64(n))
		close(ch)
	}
}

func b2(n int) {
	a, b := make(chan int), make(chan int)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			b <- <-a
		}
	}()
	for i := 0; i < n; i++ {
		a <- i
		<-b
	}
	fmt.Printf("go,B2,%d,round_trip,%.1f,ns\n", n, float64(time.Since(start).Nanoseconds())/float64(n))
}

func b3(size, hops int) {
	links := make([]chan int, size)
	for i := range links {
		links[i] = make(chan int)
	}
	done := make(chan bool)
	for i := 0; i < size; i++ {
		go func(in, out chan int) {
			for token := range in {
				if token == 0 {
					done <- true
					return
				}
				out <- token - 1
			}
		}(links[i], links[(i+1)%size])
	}
	start := time.Now()
	links[0] <- hops
	<-done
	fmt.Printf("go,B3,%d,hop,%.1f,ns\n", size, float64(time.Since(start).Nanoseconds())/float64(hops))
}

// b4: the robots of examples/robots.cpp: each goroutine picks a random chair per round,
// takes it if nobody ever did (a bitmap, as ours), then yields.
func b4(robots, width, height, rounds int) {
	bits := make([]uint64, (width*height+63)/64)
	points := make([]int, robots)
	var wg sync.WaitGroup
	wg.Add(robots)
	start := time.Now()
	for id := 0; id < robots; id++ {
		go func(id int) {
			defer wg.Done()
			state := uint64(id)*0x100000001b3 + 1
			next := func(n int) int {
				state += 0x9e3779b97f4a7c15
				z := state
				z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
				z = (z ^ (z >> 27)) * 0x94d049bb133111eb
				return int((z ^ (z >> 31)) % uint64(n))
			}
			for r := 0; r < rounds; r++ {
				cell := next(height)*width + next(width)
				bit := uint64(1) << (cell % 64)
				if bits[cell/64]&bit == 0 {
					bits[cell/64] |= bit
					points[id]++
				}
				runtime.Gosched()
			}
		}(id)
	}
	wg.Wait()
	// Goroutines start as they are created: spawning is part of the time, as in ours.
	fmt.Printf("go,B4,%d,total,%.1f,ms\n", robots, float64(time.Since(start).Microseconds())/1000)
}

func pairs(procs, count, trips int) float64 {
	runtime.GOMAXPROCS(procs)
	var wg sync.WaitGroup
	start := time.Now()
	for p := 0; p < count; p++ {
		a, b := make(chan int), make(chan int)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < trips; i++ {
				a <- i
				<-b
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < trips; i++ {
				b <- <-a
			}
		}()
	}
	wg.Wait()
	return float64(count*trips) / time.Since(start).Seconds()
}

// b11: n goroutines, each sleeping a random 0-1 s (time.Sleep): CPU time per timer, how
// late they wake, resident memory per sleeper.
func b11(n int) {
	offsets := make([]time.Duration, n)
	seed := uint64(11)
	for i := range offsets {
		seed = seed*6364136223846793005 + 1442695040888963407
		offsets[i] = time.Duration((seed >> 33) % 1000000001)
	}
	late := make([]int64, n)
	before := residentBytes()
	var u0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u0)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			deadline := start.Add(offsets[i])
			time.Sleep(time.Until(deadline))
			late[i] = int64(time.Since(deadline))
			wg.Done()
		}(i)
	}
	wg.Wait()
	sleeping := peakResidentBytes()
	var u1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u1)
	cpu := float64(u1.Utime.Nano()+u1.Stime.Nano()-u0.Utime.Nano()-u0.Stime.Nano())
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	fmt.Printf("go,B11,%d,cpu_per_timer,%.1f,ns\n", n, cpu/float64(n))
	fmt.Printf("go,B11,%d,late_p50,%.1f,us\n", n, float64(late[n/2])/1e3)
	fmt.Printf("go,B11,%d,late_p99,%.1f,us\n", n, float64(late[n*99/100])/1e3)
	fmt.Printf("go,B11,%d,rss_per_sleeper,%.1f,bytes\n", n, float64(sleeping-before)/float64(n))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peers b1|b2|b3|b4|b7|b11 [--smoke]")
		os.Exit(2)
	}
	smoke := len(os.Args) > 2 && os.Args[2] == "--smoke"
	runtime.GOMAXPROCS(1)
	fmt.Println("impl,bench,param,metric,value,unit")
	switch os.Args[1] {
	case "b1":
		if smoke {
			b1([]int{1000})
		} else {
			b1([]int{100000, 1000000})
		}
	case "b2":
		if smoke {
			b2(1000)
		} else {
			b2(1000000)
		}
	case "b3":
		if smoke {
			b3(10, 1000)
		} else {
			b3(1000, 1000000)
			b3(100000, 1000000)
		}
	case "b4":
		if smoke {
			b4(1000, 10000, 10000, 10)
		} else {
			b4(100000, 10000, 10000, 10)
		}
	case "b7":
		count, trips := 1000, 1000
		if smoke {
			count, trips = 10, 100
		}
		one := pairs(1, count, trips)
		two := pairs(2, count, trips)
		fmt.Printf("go,B7,1,throughput,%.0f,round_trips/s\n", one)
		fmt.Printf("go,B7,2,throughput,%.0f,round_trips/s\n", two)
		fmt.Printf("go,B7,2,speedup,%.2f,x\n", two/one)
	case "b11":
		if smoke {
			b11(10000)
		} else {
			b11(1000000)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown benchmark", os.Args[1])
		os.Exit(2)
	}
}
