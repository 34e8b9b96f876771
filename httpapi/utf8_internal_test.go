package httpapi

import "testing"

func TestHasLoneSurrogate(t *testing.T) {
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"plain", `{"name":"Ada"}`, false},
		{"escaped pair", `{"name":"\ud83d\ude00"}`, false},
		{"escaped BMP", `{"name":"\u00e9\u20ac"}`, false},
		{"lone high", `{"name":"\ud800"}`, true},
		{"lone high then text", `{"name":"\ud800x"}`, true},
		{"lone low", `{"name":"\udc00"}`, true},
		{"high then escape", `{"name":"\ud800\n"}`, true},
		{"two highs", `{"name":"\ud800\ud800"}`, true},
		{"reversed pair", `{"name":"\ude00\ud83d"}`, true},
		{"escaped backslash", `{"name":"\\ud800"}`, false},
		{"outside a string", `{"a":1}`, false},
		{"in a key", `{"\ud800":1}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasLoneSurrogate([]byte(tt.body)); got != tt.want {
				t.Errorf("hasLoneSurrogate(%s) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}
