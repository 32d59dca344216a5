package demobank

import "testing"

func TestAmounts(t *testing.T) {
	for in, want := range map[string]int64{"5000": 5000_00, "5 000": 5000_00, "1500,5": 1500_50, "1500.05": 1500_05, " 0,01 ": 1} {
		if got, err := parseAmount(in); err != nil || got != want {
			t.Errorf("parseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "1.234", "1e3", "abc", "1,2,3", "99999999999", "12.", ".5"} {
		if got, err := parseAmount(in); err == nil {
			t.Errorf("parseAmount(%q) = %d, want an error", in, got)
		}
	}
	if _, err := parseDecimal("5 000.00"); err == nil {
		t.Error("parseDecimal accepted a space")
	}
	if got := display(25_000_00); got != "25 000,00" {
		t.Errorf("display = %q", got)
	}
	if got := display(1_234_567_89); got != "1 234 567,89" {
		t.Errorf("display = %q", got)
	}
	if got := decimal(5000_05); got != "5000.05" {
		t.Errorf("decimal = %q", got)
	}
}
