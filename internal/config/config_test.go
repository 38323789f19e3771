package config_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/heraldhq/herald/internal/config"
)

// TestDefaultsAreTheFlagDefaults: Defaults gives what `herald serve` gets
// from the flag parser with no flag and no HERALD_* variable set.
func TestDefaultsAreTheFlagDefaults(t *testing.T) {
	vars := map[string]string{"retry_schedule": "1s,2m"}
	typ := reflect.TypeFor[config.Serve]()
	for i := range typ.NumField() {
		if env := typ.Field(i).Tag.Get("env"); env != "" {
			t.Setenv(env, "") // restored at cleanup
			os.Unsetenv(env)
		}
	}
	var cli struct {
		Serve config.Serve `cmd:""`
	}
	parser, err := kong.New(&cli, kong.Vars(vars))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse([]string{"serve"}); err != nil {
		t.Fatal(err)
	}
	got := config.Defaults(vars)
	if !reflect.DeepEqual(got, cli.Serve) {
		t.Fatalf("Defaults:\n%+v\nthe flag parser:\n%+v", got, cli.Serve)
	}
	if got.RetrySchedule != "1s,2m" || got.LeaseDuration.String() != "5m0s" || got.MaxEventSize != 1<<20 || got.APIRateLimit != 1000 {
		t.Fatalf("defaults not read: %+v", got)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}

func TestDefaultsPanicOnAMissingVariable(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a default naming an unknown variable")
		}
	}()
	config.Defaults(nil)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		set  func(*config.Serve)
		want string
	}{
		{"workers", func(s *config.Serve) { s.Workers = 0 }, "--workers must be at least 1"},
		{"lease shorter than two requests", func(s *config.Serve) { s.RequestTimeout = 3 * time.Minute }, "--lease-duration must be at least 1s and twice --request-timeout (3m0s)"},
		{"role without a shared database", func(s *config.Serve) { s.Role = "worker" }, "--role worker needs --database-url"},
		{"public url with a query", func(s *config.Serve) { s.PublicURL = "https://h.example.com/?a=1" }, "--public-url must be an http or https URL"},
		{"tls cert alone", func(s *config.Serve) { s.TLSCert = "cert.pem" }, "--tls-cert and --tls-key go together"},
		{"tenant in-flight ceiling", func(s *config.Serve) { s.MaxTenantInFlight = 0 }, "--max-tenant-in-flight must be at least 1"},
		{"no share for an app", func(s *config.Serve) { s.MaxAppShare = 0 }, "--max-app-share must be more than 0 and at most 1"},
		{"a share over the whole", func(s *config.Serve) { s.MaxAppShare = 1.5 }, "--max-app-share must be more than 0 and at most 1"},
		{"tenant timeout ceiling", func(s *config.Serve) { s.MaxTenantTimeout = 0 }, "--max-tenant-timeout must be at least 1ms"},
		{"lease shorter than two tenant requests", func(s *config.Serve) { s.MaxTenantTimeout = 3 * time.Minute }, "--lease-duration must be at least twice --max-tenant-timeout (3m0s)"},
		{"no retries allowed", func(s *config.Serve) { s.MaxRetries = 0 }, "--max-retries must be at least 1"},
		{"negative least wait", func(s *config.Serve) { s.MinRetryDelay = -time.Second }, "--min-retry-delay must not be negative"},
		{"rendered size below the largest event", func(s *config.Serve) { s.MaxRenderedSize = s.MaxEventSize + 4095 },
			"--max-rendered-size must be at least --max-event-size + 4096 bytes (1052672)"},
		{"rendered size negative", func(s *config.Serve) { s.MaxRenderedSize = -1 }, "--max-rendered-size must be at least"},
		{"transform cpu limit", func(s *config.Serve) { s.TransformCPULimit = 0 }, "--transform-cpu-limit must be at least 1ms"},
		{"transform memory limit", func(s *config.Serve) { s.TransformMemoryLimit = 512 << 10 }, "--transform-memory-limit must be at least 1MiB"},
	} {
		s := config.Defaults(map[string]string{"retry_schedule": ""})
		c.set(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestRenderedSizeCap: unset, the cap on rendered requests is twice the
// largest event, and never less than the headroom above it.
func TestRenderedSizeCap(t *testing.T) {
	t.Parallel()
	s := config.Defaults(map[string]string{"retry_schedule": ""})
	if got := s.RenderedSizeCap(); got != 2<<20 {
		t.Errorf("default: %d, want twice --max-event-size", got)
	}
	s.MaxEventSize = 1024
	if got := s.RenderedSizeCap(); got != 1024+config.RenderedSizeHeadroom {
		t.Errorf("with --max-event-size 1024: %d", got)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("the default for a small --max-event-size does not validate: %v", err)
	}
	s.MaxRenderedSize = 1024 + config.RenderedSizeHeadroom
	if got := s.RenderedSizeCap(); got != s.MaxRenderedSize {
		t.Errorf("set: %d, want %d", got, s.MaxRenderedSize)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("the smallest value allowed does not validate: %v", err)
	}
}

func TestQueueMemory(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"128MiB": 128 << 20, "1GiB": 1 << 30, "1048576": 1 << 20, "500MB": 500e6,
		"64kib": 64 << 10, "2 GiB": 2 << 30, "1.5GiB": 3 << 29, "3M": 3 << 20,
	} {
		var b config.ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || int64(b) != want {
			t.Errorf("%q: got %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "12XB", "lots"} {
		var b config.ByteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: no error, got %d", in, b)
		}
	}
	var cli struct {
		Serve config.Serve `cmd:""`
	}
	parser, err := kong.New(&cli, kong.Vars{"retry_schedule": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse([]string{"serve", "--queue-memory", "1GiB"}); err != nil || cli.Serve.QueueMemory != 1<<30 {
		t.Fatalf("--queue-memory 1GiB: %v, %d", err, cli.Serve.QueueMemory)
	}
	if _, err := parser.Parse([]string{"serve", "--queue-memory", "big"}); err == nil || !strings.Contains(err.Error(), "not a size") {
		t.Fatalf("--queue-memory big: %v", err)
	}
	s := config.Defaults(map[string]string{"retry_schedule": "1s"})
	if s.QueueMemory != 128<<20 || s.QueueMemory.String() != "128MiB" {
		t.Fatalf("default --queue-memory %v", s.QueueMemory)
	}
	s.QueueMemory = 1000
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "--queue-memory") {
		t.Fatalf("--queue-memory 1000: %v", err)
	}
}

// TestNewEndpointsEnabled: on by default, off through the environment
// or the negated flag.
func TestNewEndpointsEnabled(t *testing.T) {
	vars := map[string]string{"retry_schedule": "1s"}
	parse := func(args ...string) bool {
		t.Helper()
		var cli struct {
			Serve config.Serve `cmd:""`
		}
		parser, err := kong.New(&cli, kong.Vars(vars))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parser.Parse(append([]string{"serve"}, args...)); err != nil {
			t.Fatal(err)
		}
		return cli.Serve.NewEndpointsEnabled
	}
	t.Setenv("HERALD_NEW_ENDPOINTS_ENABLED", "")
	os.Unsetenv("HERALD_NEW_ENDPOINTS_ENABLED")
	if !parse() || !config.Defaults(vars).NewEndpointsEnabled {
		t.Error("default: new endpoints start disabled")
	}
	if parse("--no-new-endpoints-enabled") {
		t.Error("--no-new-endpoints-enabled left them enabled")
	}
	t.Setenv("HERALD_NEW_ENDPOINTS_ENABLED", "false")
	if parse() {
		t.Error("HERALD_NEW_ENDPOINTS_ENABLED=false left them enabled")
	}
}
