// Package broker holds the destination kinds beyond HTTP: one file per
// broker or cloud queue, each an outbound.Kind that checks its fields and
// opens pooled clients with the vendor's own Go client. Everything the
// kinds share (templates, signatures, pooling, the attempt record, error
// kinds, the destination policy) is in package outbound.
package broker

import (
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/outbound"
	"github.com/heraldhq/herald/internal/shape"
)

// Kinds returns every destination kind beyond HTTP.
func Kinds() []outbound.Kind {
	return []outbound.Kind{
		NATS(),
		NewRabbitMQ(),
		NewKafka(),
		Redis(),
		MQTT(),
		NewPubSub(),
		SQS(),
	}
}

// refuseOthers refuses the first destination field set that a kind does
// not use, going by the JSON names, so that a field added for one kind is
// refused by the others without touching them.
func refuseOthers(d *herald.Destination, kind string, uses ...string) error {
	v := reflect.ValueOf(d).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || slices.Contains(uses, name) || v.Field(i).IsZero() {
			continue
		}
		msg := "destination." + name + " does not apply to " + kind + " destinations"
		if name == "tls" {
			msg += " (the URL's scheme says whether to use TLS)"
		}
		return &shape.FieldError{Field: "destination." + name, Msg: msg}
	}
	return nil
}

// lengthRE is a pattern of one character class and a length range,
// checked apart: a bounded repetition ({1,249}) compiles into as many
// copies of the class, a megabyte of program kept for the process's life.
type lengthRE struct {
	re       *regexp.Regexp
	min, max int
}

// boundedRE matches s when re (a pattern with + in place of the range)
// does and s is min to max bytes long.
func boundedRE(re string, min, max int) *lengthRE {
	return &lengthRE{re: regexp.MustCompile(re), min: min, max: max}
}

// MatchString reports whether s has the length and the pattern.
func (l *lengthRE) MatchString(s string) bool {
	return len(s) >= l.min && len(s) <= l.max && l.re.MatchString(s)
}
