package delivery_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if an engine goroutine outlives the tests: every
// test shuts its engine down, and a leak would mean Shutdown left work
// running.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := engineGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "delivery engine goroutines still running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func engineGoroutines() string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "internal/delivery.(*Engine)") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
