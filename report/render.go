package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// Markdown writes the report as Markdown, ready to paste into a ticket.
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Sign-in trace report\n\n")
	fmt.Fprintf(&b, "- Trace: %s (%d flows, %d sign-in transactions)\n", r.Source, r.Flows, len(r.Transactions))
	fmt.Fprintf(&b, "- Generated: %s by aadproxy\n", r.Generated.Format(time.RFC3339))
	fmt.Fprintf(&b, "- Client clock offset: %s\n", offsetText(r.ClockOffset))
	fmt.Fprintf(&b, "- Secrets: removed by `aadproxy sanitize`; IDs, codes and timestamps kept\n\n")
	if len(r.Failures) == 0 {
		b.WriteString("No failed sign-in in this trace.\n\n")
	}
	for i, f := range r.Failures {
		fmt.Fprintf(&b, "## %d. AADSTS%d %s\n\n", i+1, f.Code, orDash(f.Name))
		b.WriteString("| field | value |\n|---|---|\n")
		for _, row := range f.Rows() {
			fmt.Fprintf(&b, "| %s | %s |\n", row[0], mdCell(row[1]))
		}
		if f.Message != "" {
			fmt.Fprintf(&b, "\n> %s\n", strings.ReplaceAll(f.Message, "\n", " "))
		}
		if len(f.Findings) > 0 {
			b.WriteString("\nFindings:\n\n")
			for _, fd := range f.Findings {
				fmt.Fprintf(&b, "- **%s** %s `%s`", fd.Severity, fd.Title, fd.Rule)
				if fd.Evidence != "" {
					fmt.Fprintf(&b, " — %s", fd.Evidence)
				}
				if fd.Fix != "" {
					fmt.Fprintf(&b, " *Fix:* %s", fd.Fix)
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}
	if len(r.Transactions) > 0 {
		b.WriteString("## Sign-in transactions\n\n| # | protocol | outcome | code | client_id | tenant | flows | start (UTC) |\n|---|---|---|---|---|---|---|---|\n")
		for _, t := range r.Transactions {
			code := ""
			if t.Code != 0 {
				code = fmt.Sprint(t.Code)
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", t.ID, t.Protocol, t.Outcome, code, mdCell(t.ClientID), mdCell(t.Tenant), flowList(t.Flows), t.Start.UTC().Format(time.RFC3339))
		}
		b.WriteString("\n")
	}
	if len(r.Findings) > 0 {
		b.WriteString("## All findings\n\n| flow | severity | rule | title |\n|---|---|---|---|\n")
		for _, fd := range r.Findings {
			fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", fd.Flow, fd.Severity, fd.Rule, mdCell(fd.Title))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Rows are the support fields of a failure, in the order tickets ask.
func (f Failure) Rows() [][2]string {
	tx := "—"
	if f.Transaction >= 0 {
		tx = fmt.Sprintf("#%d (%s)", f.Transaction, f.Protocol)
	}
	return [][2]string{
		{"Error code", fmt.Sprintf("AADSTS%d %s", f.Code, f.Name)},
		{"Correlation ID", orDash(f.CorrelationID)},
		{"Request ID (x-ms-request-id)", orDash(f.RequestID)},
		{"Trace ID", orDash(f.TraceID)},
		{"Timestamp (UTC)", f.Timestamp.Format("2006-01-02 15:04:05Z")},
		{"Tenant", orDash(f.Tenant)},
		{"client_id", orDash(f.ClientID)},
		{"Endpoint", f.Endpoint},
		{"Flow", fmt.Sprintf("#%d", f.Flow)},
		{"Transaction", tx},
		{"Client clock offset", offsetText(f.ClockOffset)},
	}
}

func offsetText(d *time.Duration) string {
	if d == nil {
		return "unknown (no Date header)"
	}
	switch {
	case *d == 0:
		return "0s (in sync)"
	case *d > 0:
		return fmt.Sprintf("client %s behind the server", *d)
	default:
		return fmt.Sprintf("client %s ahead of the server", -*d)
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", "").Replace(orDash(s))
}

func flowList(fs []int) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprint(f)
	}
	return strings.Join(parts, ", ")
}

// HTML writes the report as one self-contained page (inline CSS, no script,
// no external resources), escaped by html/template.
func (r *Report) HTML(w io.Writer) error {
	return page.Execute(w, r)
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"offset": offsetText,
	"utc":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"flows":  flowList,
	"inc":    func(i int) int { return i + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Sign-in trace report — aadproxy</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f6f6f6}code{font-family:ui-monospace,monospace}.sev-error{color:#b00020}.sev-warning{color:#9a6700}.sev-info{color:#0550ae}
blockquote{margin:.5em 0;padding:.3em 1em;border-left:4px solid #ccc;color:#444}
</style></head><body>
<h1>Sign-in trace report</h1>
<p>Trace <code>{{.Source}}</code>: {{.Flows}} flows, {{len .Transactions}} sign-in transactions. Generated {{utc .Generated}} by aadproxy. Client clock offset: {{offset .ClockOffset}}. Secrets were removed by <code>aadproxy sanitize</code>; IDs, codes and timestamps are kept.</p>
{{if not .Failures}}<p>No failed sign-in in this trace.</p>{{end}}
{{range $i, $f := .Failures}}
<h2>{{inc $i}}. AADSTS{{$f.Code}} {{$f.Name}}</h2>
<table>{{range $f.Rows}}<tr><th>{{index . 0}}</th><td><code>{{index . 1}}</code></td></tr>{{end}}</table>
{{if $f.Message}}<blockquote>{{$f.Message}}</blockquote>{{end}}
{{if $f.Findings}}<ul>{{range $f.Findings}}<li><span class="sev-{{.Severity}}">{{.Severity}}</span> <b>{{.Title}}</b> <code>{{.Rule}}</code>{{if .Evidence}} — {{.Evidence}}{{end}}{{if .Fix}} <i>Fix:</i> {{.Fix}}{{end}}</li>{{end}}</ul>{{end}}
{{end}}
{{if .Transactions}}<h2>Sign-in transactions</h2>
<table><tr><th>#</th><th>protocol</th><th>outcome</th><th>code</th><th>client_id</th><th>tenant</th><th>flows</th><th>start (UTC)</th></tr>
{{range .Transactions}}<tr><td>{{.ID}}</td><td>{{.Protocol}}</td><td>{{.Outcome}}</td><td>{{if .Code}}{{.Code}}{{end}}</td><td><code>{{.ClientID}}</code></td><td><code>{{.Tenant}}</code></td><td>{{flows .Flows}}</td><td>{{utc .Start}}</td></tr>{{end}}
</table>{{end}}
{{if .Findings}}<h2>All findings</h2>
<table><tr><th>flow</th><th>severity</th><th>rule</th><th>title</th></tr>
{{range .Findings}}<tr><td>{{.Flow}}</td><td class="sev-{{.Severity}}">{{.Severity}}</td><td><code>{{.Rule}}</code></td><td>{{.Title}}</td></tr>{{end}}
</table>{{end}}
</body></html>
`))
