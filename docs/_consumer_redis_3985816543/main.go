package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/verify"
)

func main() {
	v, err := verify.New(os.Getenv("HERALD_WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	v = v.WithTolerance(24 * time.Hour)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	// BUSYGROUP: the group exists already.
	err = rdb.XGroupCreateMkStream(ctx, "herald_docs_redis_0906178ef879", "billing", "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		log.Fatal(err)
	}
	for ctx.Err() == nil {
		streams, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: "billing", Consumer: "worker-1",
			Streams: []string{"herald_docs_redis_0906178ef879", ">"}, Count: 10, Block: 5 * time.Second,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			log.Print(err)
			time.Sleep(time.Second)
			continue
		}
		for _, m := range streams[0].Messages {
			h := http.Header{}
			var body []byte
			for name, value := range m.Values {
				s, _ := value.(string)
				if name == "body" {
					body = []byte(s)
				} else {
					h.Set(name, s)
				}
			}
			if err := v.Verify(h, body); err != nil {
				log.Printf("dropped %s: %v", m.ID, err)
			} else {
				handle(h.Get("webhook-id"), body)
			}
			rdb.XAck(ctx, "herald_docs_redis_0906178ef879", "billing", m.ID)
		}
	}
}

// handle processes one event; skip an id already handled.
func handle(id string, body []byte) { log.Printf("%s: %s", id, body) }
