// Package broker holds the destination kinds beyond HTTP: one file per
// broker or cloud queue, each an outbound.Kind that checks its fields and
// opens pooled clients with the vendor's own Go client. Everything the
// kinds share (templates, signatures, pooling, the attempt record, error
// kinds, the destination policy) is in package outbound.
package broker

import "github.com/heraldhq/herald/internal/outbound"

// Kinds returns every destination kind beyond HTTP.
func Kinds() []outbound.Kind {
	return []outbound.Kind{
		// One line per kind, in herald.BrokerKinds order.
		NATS(),
		NewRabbitMQ(),
		SQS(),
		NewPubSub(),
		Redis(),
		MQTT(),
	}
}
