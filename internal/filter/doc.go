// Package filter decides whether an event goes to an endpoint. An endpoint
// may carry a condition written in CEL, the Common Expression Language
// (https://cel.dev); Herald sends it an event only when the condition is
// true. This comment is the reference for customers writing conditions.
//
// # Examples
//
//	payload.score > 50 && payload.user.plan == "pro"
//	event.type.startsWith("conversation_")
//	"vip" in payload.tags
//	app.uid == "acme"
//	has(payload.email) && payload.email.endsWith("@example.co.jp")
//	payload.items.exists(i, i.sku == "A-100" && i.qty >= 2)
//	event.timestamp > timestamp("2025-04-01T00:00:00+09:00")
//
// A condition must be true or false: "payload.score + 1" is refused when the
// endpoint is saved, and a condition whose value turns out not to be a
// boolean at delivery time counts as not matching.
//
// # Variables
//
// payload is the event's JSON payload. Objects are maps (payload.user.plan
// or payload["会社名"]), arrays are lists (payload.tags[0], size(payload.tags)),
// strings, booleans and null are themselves. A JSON number is an int when it
// is a whole number that fits in 64 bits and a double otherwise; ints and
// doubles compare with each other as numbers, so payload.score > 50 holds for
// 51 and for 50.5, and payload.score == 50 holds for 50 and for 50.0.
// Arithmetic does not mix them: payload.qty * payload.price is an error when
// one is an int and the other a double, so write
// double(payload.qty) * double(payload.price).
//
// event describes the event: event.id and event.type are strings and
// event.timestamp is a timestamp. Its accessors use UTC unless given a time
// zone: event.timestamp.getHours("+09:00") is the hour in Japan.
//
// app is the application that sent the event: app.id, app.uid and app.name
// are strings. Naming a field that event or app does not have, such as
// event.tpye, is refused when the endpoint is saved.
//
// # Missing fields
//
// Reading a payload field that is not there, payload.email on an event
// without an email, is an error, and an error counts as not matching: the
// event is not sent to the endpoint, and the error is recorded so the
// condition can be fixed. Test for a field first with has():
//
//	has(payload.email) && payload.email != ""
//	!has(payload.plan) || payload.plan != "free"
//	has(payload.user) && has(payload.user.plan)
//
// && and || skip an error on the side that does not decide the result, so
// has(payload.email) && ... never reads a missing email. has() tests the last
// field only: has(payload.user.plan) is an error when payload.user itself is
// missing, hence the third example. The key-in-map form works for keys that
// are not identifiers: "会社名" in payload.
//
// # Functions
//
// The standard CEL functions and macros are available: size, contains,
// startsWith, endsWith, matches (RE2 regular expressions), in, has, all,
// exists, exists_one, map, filter, int, double, string, timestamp, duration
// and the timestamp accessors such as getFullYear and getDayOfWeek. So are
// the CEL string extensions: lowerAscii, upperAscii, trim, split, join,
// replace, indexOf, substring, charAt, format and others.
//
// # Cost limit
//
// A condition runs once per event and endpoint, so its work is bounded.
// Every step of the evaluation has a cost (about one unit for a comparison
// or a field read, more for string and list operations in proportion to
// their size), and an evaluation that goes over MaxCost units stops with a
// cost error and counts as not matching. Ordinary conditions cost tens of
// units; only loops over large lists, and above all loops inside loops,
// come near the limit.
package filter
