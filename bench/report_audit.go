package bench

import (
	"fmt"
	"strings"
)

// writeAuditVerify writes the verification of the large audit logs.
func (r *Report) writeAuditVerify(m *md) {
	if len(r.AuditVerify) == 0 {
		return
	}
	m.p("## Audit chain verification")
	m.p("")
	m.p("`mosaic federation audit verify --json` against the growth gateways with a seeded "+
		"audit log, after their reads, %d runs each: the CLI asks the gateway's admin API, "+
		"which reads the whole log in id order and checks every row's hash and its link "+
		"to the row before (package sqlstore/auditchain). The seeded rows are chained as "+
		"the store chains its own, after the rows already there. Seconds are the "+
		"command's wall time, its own start included; rows are those the report says it "+
		"checked, the audit rows of the reads included.", r.Runs)
	m.p("")
	m.header("gateway", "rows", "seconds", "runs (s)", "rows/s", "intact")
	for _, v := range r.AuditVerify {
		rows := make([]float64, len(v.Rows))
		rates := make([]float64, 0, len(v.Rows))
		for i, n := range v.Rows {
			rows[i] = float64(n)
			if i < len(v.Seconds) && v.Seconds[i] > 0 {
				rates = append(rates, float64(n)/v.Seconds[i])
			}
		}
		m.row(v.Name, count(int(Median(rows))), fmt.Sprintf("%.2f", Median(v.Seconds)),
			seconds(v.Seconds), count(int(Median(rates))), intactText(v.Intact))
	}
	m.p("")
}

// intactText says whether every run found the chain intact.
func intactText(runs []bool) string {
	var broken []string
	for i, ok := range runs {
		if !ok {
			broken = append(broken, fmt.Sprint(i+1))
		}
	}
	switch {
	case len(runs) == 0:
		return "–"
	case len(broken) == 0:
		return "yes"
	}
	return "**no** (run " + strings.Join(broken, ", ") + ")"
}
