package bench

import (
	"fmt"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/config"
)

// Scenario names, in the order they run.
const (
	Throughput     = "throughput"
	Latency        = "latency"
	Steady         = "steady"
	Fanout         = "fanout"
	SlowEndpoint   = "slow-endpoint"
	NoisyNeighbour = "noisy-neighbour"
	HostileTenant  = "hostile-tenant"
	// StuckEndpoints and HangingEndpoints measure the memory bound and
	// the isolation from endpoints that stop answering.
	StuckEndpoints   = "stuck-endpoints"
	HangingEndpoints = "hanging-endpoints"
	Backlog          = "backlog"
	Postgres         = "postgres"
	// Nats publishes through a nats endpoint to a JetStream stream.
	Nats = "nats"
	// Ordered and Batched measure endpoints with ordering keys and with
	// batching beside plain delivery.
	Ordered = "ordered"
	Batched = "batched"
)

// Scenarios lists every scenario in the order they run.
var Scenarios = []string{Throughput, Latency, Steady, Fanout, SlowEndpoint, NoisyNeighbour, HostileTenant, StuckEndpoints, HangingEndpoints, Backlog, Postgres, Nats, Ordered, Batched}

// Config configures `herald bench`. Every flag has a HERALD_BENCH_*
// variable, like the server's flags have HERALD_* ones.
type Config struct {
	Scenario     []string        `name:"scenario" env:"HERALD_BENCH_SCENARIO" sep:"," placeholder:"NAME" help:"Scenario to run, repeatable or comma-separated: throughput, latency, steady, fanout, slow-endpoint, noisy-neighbour, hostile-tenant, stuck-endpoints, hanging-endpoints, backlog, postgres, nats, ordered, batched. Default: all but postgres, nats, ordered and batched (postgres too when --database-url is set, nats when --nats-url answers)."`
	Events       int             `name:"events" env:"HERALD_BENCH_EVENTS" default:"100000" help:"Events sent by throughput, postgres, nats, and each row of ordered and batched (to each of nats's two servers: end to end, then drained; and messages of nats's ceiling); noisy-neighbour's burst is twice this."`
	FanoutEvents int             `name:"fanout-events" env:"HERALD_BENCH_FANOUT_EVENTS" default:"1000" help:"Events sent by fanout, each to every one of --endpoints."`
	Concurrency  int             `name:"concurrency" env:"HERALD_BENCH_CONCURRENCY" default:"64" help:"Concurrent API clients (and clients of the ceiling run)."`
	Rate         int             `name:"rate" env:"HERALD_BENCH_RATE" default:"1000" help:"Events per second of latency and slow-endpoint; the quiet app of noisy-neighbour and hostile-tenant sends a tenth of it."`
	SteadyRates  []int           `name:"steady-rates" env:"HERALD_BENCH_STEADY_RATES" sep:"," default:"100,500" placeholder:"RATE" help:"Events per second of steady, comma-separated: one phase of --duration on a fresh server per rate. Default: 100,500."`
	Duration     time.Duration   `name:"duration" env:"HERALD_BENCH_DURATION" default:"30s" help:"How long latency, each rate of steady, slow-endpoint, noisy-neighbour, hostile-tenant and hanging-endpoints (beside the hostile app or the hanging endpoints, after a third of it alone) and stuck-endpoints send at their steady rate."`
	QueueMemory  config.ByteSize `name:"queue-memory" env:"HERALD_BENCH_QUEUE_MEMORY" placeholder:"SIZE" help:"--queue-memory of stuck-endpoints' server (e.g. 32MiB, to reach it sooner). Unset: the server's default, 128MiB, which a server without the flag does not pass."`
	Endpoints    int             `name:"endpoints" env:"HERALD_BENCH_ENDPOINTS" default:"1000" help:"Endpoints of fanout, all subscribed to the one event type."`
	Backlog      int             `name:"backlog" env:"HERALD_BENCH_BACKLOG" default:"1000000" help:"Deliveries backlog piles up while its receivers are down (spread over 100 endpoints)."`
	DatabaseURL  string          `name:"database-url" env:"HERALD_BENCH_DATABASE_URL" placeholder:"URL" help:"postgres://... server on which the postgres scenario creates, and then drops, a fresh database per run."`
	NATSURL      string          `name:"nats-url" env:"HERALD_BENCH_NATS_URL" default:"nats://127.0.0.1:4222" placeholder:"URL" help:"NATS server with JetStream on which the nats scenario creates, and then deletes, its streams."`
	JSON         string          `name:"json" env:"HERALD_BENCH_JSON" placeholder:"FILE" help:"Also write the figures as JSON to FILE (- for stdout; the tables then go to stderr)."`
	Quick        bool            `name:"quick" env:"HERALD_BENCH_QUICK" help:"Shrink every size for a smoke run (a few hundred events, 2 s)."`
	Instructions bool            `name:"instructions" env:"HERALD_BENCH_INSTRUCTIONS" help:"Run each server under valgrind's callgrind and also report the instructions it executed for the measured work, which hold steady on a noisy machine where rates do not. The server then runs 20-50 times slower: pick small sizes (--events 3000, --fanout-events 50 --endpoints 200). Needs valgrind."`
	Server       string          `name:"server-binary" env:"HERALD_BENCH_SERVER_BINARY" placeholder:"PATH" help:"Herald binary to run as the server instead of this one, to compare two builds in one bench. It must be a herald build whose serve takes the flags the bench passes (--addr, --data-dir, --admin-token, --shutdown-timeout, --allow-private-destinations, --api-rate-limit, --retry-schedule; --database-url and --encryption-key for postgres)."`
}

// Validate turns bad input into a CLI error before anything starts.
func (c *Config) Validate() error {
	for _, name := range c.Scenario {
		for _, n := range strings.Split(name, ",") {
			if n = strings.TrimSpace(n); n != "" && !slices.Contains(Scenarios, n) {
				return fmt.Errorf("--scenario: unknown scenario %q (known: %s)", n, strings.Join(Scenarios, ", "))
			}
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"--events", c.Events}, {"--fanout-events", c.FanoutEvents}, {"--concurrency", c.Concurrency},
		{"--rate", c.Rate}, {"--endpoints", c.Endpoints}, {"--backlog", c.Backlog}} {
		if f.v < 1 {
			return fmt.Errorf("%s must be at least 1, not %d", f.name, f.v)
		}
	}
	if len(c.SteadyRates) == 0 {
		return fmt.Errorf("--steady-rates needs at least one rate")
	}
	for _, rate := range c.SteadyRates {
		if rate < 1 {
			return fmt.Errorf("--steady-rates: each rate must be at least 1, not %d", rate)
		}
	}
	if c.Duration < 100*time.Millisecond {
		return fmt.Errorf("--duration must be at least 100ms, not %s", c.Duration)
	}
	if c.Instructions {
		for _, tool := range []string{"valgrind", "callgrind_control"} {
			if _, err := exec.LookPath(tool); err != nil {
				return fmt.Errorf("--instructions: %s is not on PATH: install valgrind (Debian package valgrind)", tool)
			}
		}
	}
	if c.Server != "" {
		if _, err := exec.LookPath(c.Server); err != nil {
			return fmt.Errorf("--server-binary %s: not an executable file", c.Server)
		}
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("--database-url must be a postgres:// URL")
		}
	}
	if _, err := natsAddr(c.NATSURL); err != nil {
		return err
	}
	if c.selected()[Postgres] && c.DatabaseURL == "" {
		return fmt.Errorf("--scenario postgres needs --database-url")
	}
	return nil
}

// selected returns the scenarios to run.
func (c *Config) selected() map[string]bool {
	out := map[string]bool{}
	for _, name := range c.Scenario {
		for _, n := range strings.Split(name, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out[n] = true
			}
		}
	}
	if len(out) == 0 {
		for _, n := range Scenarios {
			out[n] = n != Postgres || c.DatabaseURL != ""
		}
		// Each sends --events twice: opt-in, so the default run keeps its
		// length.
		out[Ordered], out[Batched] = false, false
		// Opt-in like postgres, but by reachability: a machine without NATS
		// runs the rest.
		out[Nats] = natsReachable(c.NATSURL)
	}
	return out
}

// sizes are the figures the scenarios use, after --quick.
type sizes struct {
	events, fanoutEvents, concurrency, rate, endpoints, backlog int
	steadyRates                                                 []int
	duration, ceiling                                           time.Duration
}

// backlogEndpoints is how many endpoints share the backlog: enough that
// the per-endpoint limit is not what the drain measures.
const backlogEndpoints = 100

func (c *Config) sizes() sizes {
	s := sizes{events: c.Events, fanoutEvents: c.FanoutEvents, concurrency: c.Concurrency, rate: c.Rate,
		endpoints: c.Endpoints, backlog: c.Backlog, steadyRates: c.SteadyRates, duration: c.Duration}
	if c.Quick {
		s.events = min(s.events, 300)
		s.fanoutEvents = min(s.fanoutEvents, 20)
		s.endpoints = min(s.endpoints, 20)
		s.rate = min(s.rate, 200)
		// Rates above the cap all become the cap: run it once.
		var rates []int
		for _, rate := range s.steadyRates {
			if rate = min(rate, 200); !slices.Contains(rates, rate) {
				rates = append(rates, rate)
			}
		}
		s.steadyRates = rates
		s.backlog = min(s.backlog, 2000)
		s.duration = min(s.duration, 2*time.Second)
	}
	// The ceiling runs a few seconds: long enough to be steady, short
	// beside the scenarios.
	s.ceiling = min(3*time.Second, s.duration)
	return s
}
