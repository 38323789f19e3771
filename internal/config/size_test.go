package config

import "testing"

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{
		"0": 0, "1048576": 1 << 20, "512MiB": 512 << 20, "1GiB": 1 << 30, "1gib": 1 << 30,
		"64KB": 64000, "2GB": 2e9, "1.5GiB": 3 << 29, "10M": 10 << 20, "7B": 7, " 3 MiB ": 3 << 20,
	} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("%q: %d %v, want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1MiB", "MiB", "1XB", "1e30GiB"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: accepted as %d", in, b)
		}
	}
	if s := ByteSize(1 << 30).String(); s != "1GiB" {
		t.Errorf("1 GiB prints %q", s)
	}
	if d := Defaults(map[string]string{"retry_schedule": "1s"}); d.DiskWarnFree != 1<<30 || d.StoreTimeout.String() != "5s" {
		t.Errorf("defaults: --disk-warn-free %d, --store-timeout %s", d.DiskWarnFree, d.StoreTimeout)
	}
}
