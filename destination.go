package herald

// Destination kinds beyond HTTP (Endpoint.Kind): the endpoint's
// deliveries are published to a message broker or a cloud queue described
// by its Destination, instead of sent to a URL.
const (
	KindNATS      = "nats"
	KindRabbitMQ  = "rabbitmq"
	KindKafka     = "kafka"
	KindRedis     = "redis"
	KindMQTT      = "mqtt"
	KindGCPPubSub = "gcp_pubsub"
	KindAWSSQS    = "aws_sqs"
)

// BrokerKinds lists the destination kinds beyond HTTP, in the order the
// docs and the console show them.
var BrokerKinds = []string{KindNATS, KindRabbitMQ, KindKafka, KindRedis, KindMQTT, KindGCPPubSub, KindAWSSQS}

// IsBroker reports whether the endpoint publishes to a broker or a cloud
// queue (its Destination) rather than sending HTTP requests.
func (e *Endpoint) IsBroker() bool { return IsBrokerKind(e.Kind) }

// IsBrokerKind reports whether kind is one of BrokerKinds.
func IsBrokerKind(kind string) bool {
	for _, k := range BrokerKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Destination says where a broker endpoint publishes. Which fields apply
// depends on the endpoint's kind; the others stay empty. Fields marked
// "template" may hold template tags ({{event.type}}, {{payload.id}}),
// filled in for each delivery. Credentials (Password, CredentialsJSON,
// SecretAccessKey, and a password inside URL) are secrets: encrypted at
// rest, masked wherever the endpoint is shown, kept when a client sends
// the mask back.
type Destination struct {
	// URL is the broker's address: nats://host:4222, amqp://host:5672/vhost
	// (amqps:// for TLS), redis://host:6379/0 (rediss://), mqtt://host:1883
	// (mqtts://). It may carry credentials (user:password@).
	URL string `json:"url,omitempty"`
	// Username and Password log in when URL carries no credentials
	// (NATS, RabbitMQ, Redis, MQTT, Kafka SASL).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`

	// Subject is the NATS subject (template).
	Subject string `json:"subject,omitempty"`
	// Stream: for NATS, the JetStream stream the subject belongs to: set,
	// Herald publishes through JetStream and counts the delivery only on
	// the stream's acknowledgement. For Redis, the stream key XADD
	// appends to (template).
	Stream string `json:"stream,omitempty"`

	// Exchange and RoutingKey (template) address a RabbitMQ message; the
	// exchange must exist (Herald does not declare it); empty is the
	// default exchange, where the routing key names the queue.
	Exchange   string `json:"exchange,omitempty"`
	RoutingKey string `json:"routing_key,omitempty"`

	// Brokers are Kafka's bootstrap addresses (host:port).
	Brokers []string `json:"brokers,omitempty"`
	// Topic is the Kafka, MQTT or Google Pub/Sub topic (template for
	// Kafka and MQTT).
	Topic string `json:"topic,omitempty"`
	// Key is the Kafka record key (template), so that one customer's
	// events keep their order within a partition; empty: no key.
	Key string `json:"key,omitempty"`
	// SASLMechanism is Kafka's login: "plain", "scram-sha-256" or
	// "scram-sha-512", with Username and Password; empty: none.
	SASLMechanism string `json:"sasl_mechanism,omitempty"`
	// TLS connects to the Kafka brokers over TLS (other kinds say so in
	// their URL's scheme).
	TLS bool `json:"tls,omitempty"`

	// MaxLen trims a Redis stream to about this many entries on each
	// XADD (MAXLEN ~); 0: never trimmed.
	MaxLen int64 `json:"max_len,omitempty"`

	// Project is the Google Cloud project of a Pub/Sub topic.
	Project string `json:"project,omitempty"`
	// OrderingKey is the Pub/Sub ordering key (template); empty: none.
	OrderingKey string `json:"ordering_key,omitempty"`
	// CredentialsJSON is a Google service-account key (JSON); empty: the
	// installation's default credentials.
	CredentialsJSON string `json:"credentials_json,omitempty"`

	// QueueURL and Region address an Amazon SQS queue.
	QueueURL string `json:"queue_url,omitempty"`
	Region   string `json:"region,omitempty"`
	// AccessKeyID and SecretAccessKey sign SQS requests; empty: the
	// installation's default AWS credentials.
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	// MessageGroupID and DeduplicationID (templates) are required by
	// FIFO queues; DeduplicationID defaults to the delivery id there.
	MessageGroupID  string `json:"message_group_id,omitempty"`
	DeduplicationID string `json:"deduplication_id,omitempty"`

	// Endpoint replaces the cloud API's address (Pub/Sub or SQS), for an
	// emulator or a compatible server: http://host:port.
	Endpoint string `json:"endpoint,omitempty"`
}

// DestinationTemplates lists the Destination fields that may hold
// template tags, by JSON name.
var DestinationTemplates = []string{"subject", "stream", "routing_key", "topic", "key", "ordering_key", "message_group_id", "deduplication_id"}
