// Package promcollector exposes a cxoauth client's metrics (oauth_client_metrics) to a
// Prometheus client_golang registry: the same families, names, labels and help as the
// library's own exposition, read at each scrape.
//
//	reg.MustRegister(promcollector.New(client))
//
// It is a module of its own so that the cxoauth binding itself does not depend on
// client_golang.
package promcollector

import (
	"encoding/json"
	"math"
	"sort"
	"strings"

	"github.com/cxoauth/cxoauth/bindings/go/cxoauth"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector over one cxoauth client. It is "unchecked" (Describe
// sends nothing): the label sets of the latency histogram grow with the calls made.
type Collector struct {
	client *cxoauth.Client
}

// New returns a collector of c's metrics.
func New(c *cxoauth.Client) *Collector { return &Collector{client: c} }

// Describe sends nothing (an unchecked collector).
func (*Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads the client's metrics (JSON form) and sends each family's samples. A closed
// client sends an invalid metric (the scrape reports the error).
func (col *Collector) Collect(ch chan<- prometheus.Metric) {
	text, err := col.client.Metrics("json")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewDesc("cxoauth_metrics_error", "oauth_client_metrics failed", nil, nil), err)
		return
	}
	fams, err := Parse(text)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(prometheus.NewDesc("cxoauth_metrics_error", "oauth_client_metrics failed", nil, nil), err)
		return
	}
	for _, f := range fams {
		for _, m := range f.metrics() {
			ch <- m
		}
	}
}

// Family is one family of the library's JSON metrics.
type Family struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Help    string   `json:"help"`
	Samples []Sample `json:"samples"`
}

// Sample is one sample of a family (Name carries the _bucket/_sum/_count suffix).
type Sample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

// Parse decodes the JSON form of oauth_client_metrics.
func Parse(text string) ([]Family, error) {
	var doc struct {
		Families []Family `json:"families"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		return nil, err
	}
	return doc.Families, nil
}

// labelNames is the union of the samples' label names (le aside), sorted: a family whose
// samples differ (status code or error type) gets every name, "" where a sample has none,
// which Prometheus treats as the label being absent.
func (f *Family) labelNames() []string {
	set := map[string]bool{}
	for _, s := range f.Samples {
		for k := range s.Labels {
			if k != "le" {
				set[k] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func values(names []string, labels map[string]string) []string {
	v := make([]string, len(names))
	for i, n := range names {
		v[i] = labels[n]
	}
	return v
}

func (f *Family) metrics() []prometheus.Metric {
	names := f.labelNames()
	desc := prometheus.NewDesc(f.Name, f.Help, names, nil)
	var out []prometheus.Metric
	add := func(m prometheus.Metric, err error) {
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		out = append(out, m)
	}
	switch f.Type {
	case "counter", "gauge":
		vt := prometheus.CounterValue
		if f.Type == "gauge" {
			vt = prometheus.GaugeValue
		}
		for _, s := range f.Samples {
			add(prometheus.NewConstMetric(desc, vt, s.Value, values(names, s.Labels)...))
		}
	case "histogram":
		type series struct {
			labels  []string
			buckets map[float64]uint64
			count   uint64
			sum     float64
		}
		var order []string
		byKey := map[string]*series{}
		for _, s := range f.Samples {
			lv := values(names, s.Labels)
			key := strings.Join(lv, "\xff")
			h := byKey[key]
			if h == nil {
				h = &series{labels: lv, buckets: map[float64]uint64{}}
				byKey[key] = h
				order = append(order, key)
			}
			switch strings.TrimPrefix(s.Name, f.Name) {
			case "_bucket":
				if le, ok := parseLE(s.Labels["le"]); ok && !math.IsInf(le, 1) {
					h.buckets[le] = uint64(s.Value)
				}
			case "_count":
				h.count = uint64(s.Value)
			case "_sum":
				h.sum = s.Value
			}
		}
		for _, k := range order {
			h := byKey[k]
			add(prometheus.NewConstHistogram(desc, h.count, h.sum, h.buckets, h.labels...))
		}
	default:
		for _, s := range f.Samples {
			add(prometheus.NewConstMetric(desc, prometheus.UntypedValue, s.Value, values(names, s.Labels)...))
		}
	}
	return out
}

func parseLE(s string) (float64, bool) {
	if s == "+Inf" {
		return math.Inf(1), true
	}
	var v float64
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return 0, false
	}
	return v, true
}
