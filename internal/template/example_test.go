package template_test

import (
	"fmt"
	"net/url"

	"github.com/heraldhq/herald/internal/template"
)

func ExampleParseJSON() {
	body := `{
	  "text": "{{会社名}} 様から問い合わせ ({{created | date:\"MM月DD日 HH:mm\"}})",
	  "employees": "{{lead.employees}}",
	  "lead": "{{lead}}",
	  "phone": "{{lead.phone | default:\"未入力\"}}",
	  "event": "{{event.type}}"
	}`
	titles, _ := template.TitlesFromSchema([]byte(`{"properties": {"company": {"title": "会社名"}}}`))
	t, err := template.ParseJSON([]byte(body), template.Options{Titles: titles})
	if err != nil {
		fmt.Println(err)
		return
	}
	payload, _ := template.DecodePayload([]byte(`{
	  "company": "ヘラルド株式会社",
	  "created": "2024-05-01T18:30:05+09:00",
	  "lead": {"name": "山田", "employees": 120}
	}`))
	out, err := t.Render(&template.Data{Payload: payload, Event: template.EventInfo{Type: "form.submitted"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// {"text":"ヘラルド株式会社 様から問い合わせ (05月01日 18:30)","employees":120,"lead":{"employees":120,"name":"山田"},"phone":"未入力","event":"form.submitted"}
}

func ExampleText_RenderEscaped() {
	t, err := template.ParseText("https://api.example.com/rooms/{{room}}/messages?from={{app.name}}", template.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	payload, _ := template.DecodePayload([]byte(`{"room": "a/b?c"}`))
	s, _ := t.RenderEscaped(&template.Data{Payload: payload, App: template.AppInfo{Name: "Acme Inc"}}, url.PathEscape)
	fmt.Println(s)
	// Output:
	// https://api.example.com/rooms/a%2Fb%3Fc/messages?from=Acme%20Inc
}

func ExampleJSON_RenderFields() {
	t, _ := template.ParseJSON([]byte(`{"name": "{{lead.name}}", "score": "{{score}}", "source": "herald", "page": 1}`), template.Options{})
	payload, _ := template.DecodePayload([]byte(`{"lead": {"name": "山田"}, "score": 87}`))
	fields, _ := t.RenderFields(&template.Data{Payload: payload})
	for _, f := range fields {
		fmt.Printf("%s=%s\n", f.Key, f.Value)
	}
	// Output:
	// name=山田
	// score=87
	// source=herald
	// page=1
}

func ExampleOptions_strict() {
	t, _ := template.ParseText("{{lead.company}}: {{lead.phone}}", template.Options{Strict: true})
	payload, _ := template.DecodePayload([]byte(`{"lead": {"company": "Acme"}}`))
	_, err := t.Render(&template.Data{Payload: payload})
	fmt.Println(err)
	// Output:
	// template: missing value for "lead.phone"
}

func ExampleSyntax() {
	t, _ := template.ParseText("#{name | upper} {{name}}", template.Options{Syntax: template.Hash})
	payload, _ := template.DecodePayload([]byte(`{"name": "karte"}`))
	s, _ := t.Render(&template.Data{Payload: payload})
	fmt.Println(s)
	// Output:
	// KARTE {{name}}
}
