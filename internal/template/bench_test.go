package template

import (
	"encoding/json"
	"testing"
	"time"
)

// benchPayload is a form submission of about 1 KiB (1,100 bytes).
const benchPayload = `{
  "form_id": "f_8c1d2e",
  "submission_id": "s_01HX4Z9K7Q2M3N4P5R6S7T8V9W",
  "submitted_at": "2024-05-01T18:30:05.123+09:00",
  "lead": {
    "company": "ヘラルド株式会社",
    "department": "マーケティング部",
    "name": "山田 太郎",
    "email": "taro.yamada@example.co.jp",
    "phone": "03-1234-5678",
    "employees": 120,
    "budget": 1500000.50
  },
  "answers": [
    {"question": "ご興味のある製品", "answer": "Webhook 配信"},
    {"question": "導入時期", "answer": "3ヶ月以内"},
    {"question": "ご要望", "answer": "Slack と Chatwork に通知したい。\n再送の仕組みも知りたい。"}
  ],
  "utm": {"source": "google", "medium": "cpc", "campaign": "spring_2024"},
  "page": {
    "url": "https://www.example.co.jp/contact?utm_source=google&utm_medium=cpc",
    "referrer": "https://www.google.com/",
    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15"
  },
  "consent": true,
  "score": 87,
  "tags": ["hot", "enterprise", "tokyo"],
  "notes": "<b>至急</b> ご連絡ください & 資料送付"
}`

const benchBody = `{
  "event": "{{event.type}}",
  "id": "{{event.id}}",
  "occurred_at": "{{event.timestamp}}",
  "company": "{{lead.company}}",
  "contact": "{{lead.name}} <{{lead.email}}>",
  "employees": "{{lead.employees}}",
  "budget": "{{lead.budget}}",
  "score": "{{score | default:0}}",
  "hot": "{{consent}}",
  "answers": "{{answers}}",
  "summary": "{{lead.company}} 様から問い合わせ ({{submitted_at | date:\"YYYY/MM/DD HH:mm\"}})",
  "campaign": "{{utm.campaign | upper}}",
  "source": "herald"
}`

func benchData(b *testing.B) *Data {
	b.Helper()
	p, err := DecodePayload([]byte(benchPayload))
	if err != nil {
		b.Fatal(err)
	}
	return &Data{
		Payload:  p,
		Event:    EventInfo{ID: "evt_01HX4Z9K7Q2M3N4P5R6S7T8V9W", Type: "form.submitted", Timestamp: time.Date(2024, 5, 1, 9, 30, 5, 0, time.UTC)},
		App:      AppInfo{ID: "app_1", UID: "acme", Name: "Acme"},
		Endpoint: EndpointInfo{ID: "ep_1"},
	}
}

func BenchmarkRenderJSON(b *testing.B) {
	d := benchData(b)
	tm, err := ParseJSON([]byte(benchBody), Options{})
	if err != nil {
		b.Fatal(err)
	}
	out, err := tm.Render(d)
	if err != nil || !json.Valid(out) {
		b.Fatalf("%s, %v", out, err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tm.Render(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderText(b *testing.B) {
	d := benchData(b)
	tm, err := ParseText("https://hooks.example.com/{{app.uid}}/leads/{{submission_id}}?company={{lead.company}}&score={{score}}", Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tm.Render(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderFields(b *testing.B) {
	d := benchData(b)
	tm, err := ParseJSON([]byte(benchBody), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tm.RenderFields(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJSON(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseJSON([]byte(benchBody), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
