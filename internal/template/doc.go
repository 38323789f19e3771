// Package template fills values from an event into the request Herald
// sends: the URL, header values and the body may hold template tags. This
// comment is the reference for customers writing templates.
//
// # Tags
//
// A tag is a path, optionally followed by filters, between {{ and }}:
//
//	{{company}}
//	{{lead.company}}
//	{{items.0.sku}}
//	{{会社名}}
//	{{name | default:"n/a" | upper}}
//
// White space around the path, around "|" and around ":" is ignored,
// including the full-width space U+3000: {{ name|upper }} and
// {{name | upper}} are the same tag.
//
// Endpoints may use a second syntax, #{ expr } (the syntax of KARTE),
// instead. Everything else is identical: #{lead.company | upper} means
// what {{lead.company | upper}} means. An endpoint uses one syntax; in
// the default syntax #{x} is ordinary text, and with #{ } tags {{x}} is.
//
// Text that does not start a tag is copied as is: a single "{" or "}",
// "}}" on its own, JSON braces in a text body. In a run of braces the tag
// starts at the last two, so {{{name}}} gives the name between literal
// braces. A "{{" always starts a tag, so it must be closed: "{{" without
// a matching "}}" is an error, as is an empty tag {{ }}.
//
// # Paths
//
// A path names a value of the event payload, one segment per level,
// separated by dots. A segment is any text without ".", "|", "{" or "}";
// spaces inside it belong to it ({{field name}} names the key
// "field name"), only the spaces around the whole path are ignored.
//
// With the payload
//
//	{"company": "ヘラルド株式会社",
//	 "lead": {"company": "Acme", "score": 42},
//	 "items": [{"sku": "A-1"}, {"sku": "B-2"}],
//	 "field name": "x", "2024": "y"}
//
// these tags give:
//
//	{{company}}        ヘラルド株式会社
//	{{lead.company}}   Acme
//	{{items.1.sku}}    B-2      (a number indexes an array, from 0)
//	{{field name}}     x
//	{{2024}}           y        (on an object a number is just a key)
//	{{lead.phone}}     missing  (see Missing values)
//
// A few paths name what Herald knows about the delivery instead of the
// payload:
//
//	{{event.id}}         the event's id
//	{{event.type}}       the event type, e.g. form.submitted
//	{{event.timestamp}}  when the event was created: RFC 3339 in UTC with
//	                     milliseconds, e.g. 2024-05-01T09:30:00.000Z
//	{{app.id}}           the app's id
//	{{app.uid}}          the app's own identifier
//	{{app.name}}         the app's name
//	{{endpoint.id}}      the endpoint's id
//	{{delivery.id}}      the delivery's id: the webhook-id of a request
//	                     sent alone, the element id of a batch
//
// Only these exact paths are metadata; {{event.name}} is the payload's
// "event" object's "name". A path starting with "payload." always names
// the payload, so {{payload.event.type}} reaches a payload field called
// "event" even though {{event.type}} is the event type, and {{payload}}
// alone is the whole payload.
//
// An endpoint's batch body template, rendered once for a batched request,
// also has
//
//	{{batch.id}}         the batch id (bat_…), the request's webhook-id
//	{{batch.size}}       the number of elements, a number
//	{{batch.events}}     the JSON array of the elements
//
// which in any other template are payload paths.
//
// # Field titles
//
// A tag may also use a field's display title, as the event type's JSON
// Schema gives it: with the property "company" titled 会社名, {{会社名}}
// is the payload's "company", and with "lead.company" titled 会社名,
// {{会社名}} is {{lead.company}}. A path is resolved in this order:
//
//  1. one of the metadata paths above;
//  2. "payload" or a path starting with "payload.": the payload;
//  3. a path that exists in the payload (even with a null value);
//  4. the whole path, as written, equal to a title: that field;
//  5. otherwise the value is missing.
//
// Filters apply to titles as to paths: {{会社名 | default:"未入力"}}.
//
// # Filters
//
// Filters change a value; they apply from left to right. An argument
// follows a colon and is a "quoted string" (with JSON escapes, such as
// \" and \u00e9) or a number. Filter names are lower case.
//
//	default:"x"   the argument when the value is missing, null or the
//	              empty string; otherwise the value. A number argument
//	              stays a number: {{score | default:0}}.
//	or:"path"     the value at another path (or field title) when the
//	              value is missing, null or the empty string:
//	              {{lastName | or:"name"}}. The result keeps its JSON type.
//	upper         the text in upper case.
//	lower         the text in lower case.
//	json          the value written as JSON text, e.g. to show an object
//	              inside a message: "{{lead | json}}". The result is text.
//	urlencode     the text escaped for a URL query (spaces become +).
//	truncate:N    at most the first N characters (N a whole number).
//	date:"F"      a time, reformatted; see below.
//
// upper, lower, urlencode and truncate work on text: a number becomes its
// digits, true and false their names, null the empty text, and an object
// or array its JSON. Their result is always text.
//
// date takes an RFC 3339 time ("2024-05-01T18:30:00+09:00"), or Unix
// seconds as a number or a string of digits (1714555800, fractions
// allowed), and writes it with the format F, where
//
//	YYYY  year (4 digits)      HH  hour (00-23)
//	MM    month (01-12)        mm  minute
//	DD    day (01-31)          ss  second
//	SSS   milliseconds         Z   offset, e.g. +09:00 (+00:00 for UTC)
//
// and every other character is copied: date:"YYYY年MM月DD日 HH:mm" gives
// 2024年05月01日 18:30. The time keeps its own offset; Unix seconds are in
// UTC. Two formats are special: date:"rfc3339" writes RFC 3339 without
// fractions (2024-05-01T18:30:00+09:00), and date:"unix" writes Unix
// seconds as a number. A null value stays null. A value that is not a
// time counts as missing: it renders empty, a later default applies, and
// a strict endpoint fails the delivery.
//
// # Missing values
//
// A path that names nothing (an absent key, an index past the end of an
// array, a path through a text or number) is missing. A missing value
// renders as empty text, or as null where a tag stands for a whole JSON
// value (see below). Filters other than default leave it missing, and
// default replaces it: {{lead.phone | default:"-"}}. An endpoint may be
// strict: then a missing value that no default replaces fails the
// delivery, with an error naming the path as written.
//
// # Text: URLs, headers, plain text bodies
//
// In text, a tag is replaced by its value as text: text as is, a number
// with its exact digits, true or false, nothing for null, and an object or
// array as compact JSON. In a URL each value is also percent-encoded, so a
// value can never add a path segment or a query parameter.
//
// # JSON bodies
//
// A JSON body template must itself be valid JSON; tags go inside its
// strings, keys included:
//
//	{
//	  "text": "{{lead.company}} さんから問い合わせがありました",
//	  "company": "{{lead.company}}",
//	  "score": "{{lead.score}}",
//	  "lead": "{{lead}}",
//	  "tags": ["{{event.type}}", "webhook"],
//	  "{{app.uid}}_id": "{{event.id}}",
//	  "fixed": 1.50
//	}
//
// A string that is exactly one tag, with nothing around it (not even
// spaces), stands for the whole value and keeps its JSON type: above,
// "score" becomes the number 42 (digits kept exactly, e.g.
// 12345678901234567890 or 1.50), "lead" the object
// {"company":"Acme","score":42}, true and false stay booleans, and a
// missing value becomes null. After filters the type is the filter's:
// "{{lead.score | json}}" and "{{lead.company | upper}}" give strings,
// "{{ts | date:\"unix\"}}" a number. Any other string, such as "text"
// above, and every key, gets the values inserted as text.
//
// Values are always escaped, so the body is valid JSON whatever they
// contain (quotes, line breaks, control characters, "<", emoji, invalid
// UTF-8, which becomes U+FFFD); "<", ">", "&", U+2028 and U+2029 are
// written as \u escapes so that a body embedded in a web page cannot
// break out of it.
//
// The body is sent compact (without the template's white space), with
// object members in the order written and numbers, true, false and null
// written in the template sent as written. An object inserted from the
// payload keeps its keys in the order the payload has them, at every
// depth, when Data.RawPayload holds the payload's text (sorted
// otherwise). If tags make two keys of one object equal, both are sent,
// in order; most receivers keep the last.
//
// # Form bodies and query strings
//
// For a form body (application/x-www-form-urlencoded), and for GET and
// DELETE requests whose fields go to the query string, the template must
// be a JSON object: each member, in order, is one field. A string value
// renders as text, as described under Text (a lone tag of an object gives
// its JSON, of null or a missing value an empty field); a number, boolean,
// null, object or array written in the template gives its compact JSON.
//
//	{"name": "{{lead.name}}", "source": "herald", "page": 1}
//	→ name=%E5%B1%B1%E7%94%B0&source=herald&page=1
//
// # Errors
//
// A template is checked when the endpoint is saved. Errors give the line
// and column (counted in characters) of the mistake; in a JSON body they
// refer to the body as written, pointing through any escapes inside the
// string at the exact character. For example:
//
//	Hello {{name | uppr}}
//	template: line 1, column 16: unknown filter "uppr" (filters: default, upper, lower, json, urlencode, truncate, date)
//
//	{{name | truncate:-1}}
//	template: line 1, column 19: filter "truncate" needs a whole number of characters, e.g. truncate:100
//
//	{"text": "{{name"}
//	template: line 1, column 11: unclosed tag: "{{" has no matching "}}"
//
//	{"a": 1,
//	}
//	template: line 2, column 1: invalid JSON: invalid character '}' looking for beginning of object key string
//
// When a strict endpoint meets a missing value, the delivery fails with
// an error naming the path as written:
//
//	template: missing value for "lead.company"
//	template: filter "date" cannot use the value of "created_at": not an RFC 3339 time or a Unix timestamp
//
// # Size
//
// A request has a size cap (the installation's --max-rendered-size, 2 MiB
// by default), however often a template repeats a value. Rendering stops
// as soon as the output passes it, as it does when a value a filter works
// on passes it (a chain of json filters doubles a value at each step), so
// {{big | truncate:10}} needs big itself to fit. The delivery then fails,
// without retries:
//
//	body_template: the rendered request (URL, headers and body) is over 2097152 bytes, the most this installation sends (--max-rendered-size)
package template
