package demobank

import (
	"errors"
	"strconv"
	"strings"
)

// maxAmount bounds a single transfer, in øre (NOK 10 000 000).
const maxAmount = 10_000_000_00

// parseAmount reads a NOK amount as a person types it ("5000", "5 000",
// "5000,50", "5000.5") and returns it in øre. At most two decimals.
func parseAmount(s string) (int64, error) {
	s = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", "_", "").Replace(strings.TrimSpace(s))
	s = strings.Replace(s, ",", ".", 1)
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(whole) > 9 || !digits(whole) || (hasFrac && (len(frac) == 0 || len(frac) > 2 || !digits(frac))) {
		return 0, errors.New("enter an amount such as 1500 or 1500,50")
	}
	n, _ := strconv.ParseInt(whole, 10, 64)
	n *= 100
	switch len(frac) {
	case 1:
		f, _ := strconv.ParseInt(frac, 10, 64)
		n += f * 10
	case 2:
		f, _ := strconv.ParseInt(frac, 10, 64)
		n += f
	}
	if n <= 0 {
		return 0, errors.New("the amount must be more than zero")
	}
	if n > maxAmount {
		return 0, errors.New("the amount is above the demo bank's limit")
	}
	return n, nil
}

// parseDecimal reads the payment.v1 wire form of an amount: digits, and
// optionally a point and one or two decimals ("5000.00").
func parseDecimal(s string) (int64, error) {
	if strings.ContainsAny(s, " ,\u00a0") {
		return 0, errors.New("malformed amount")
	}
	return parseAmount(s)
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// decimal is the payment.v1 form of an amount in øre: "5000.00".
func decimal(øre int64) string {
	return strconv.FormatInt(øre/100, 10) + "." + pad2(øre%100)
}

// display is the Norwegian form: "25 000,00".
func display(øre int64) string {
	neg := øre < 0
	if neg {
		øre = -øre
	}
	w := strconv.FormatInt(øre/100, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range w {
		if i > 0 && (len(w)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String() + "," + pad2(øre%100)
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}
