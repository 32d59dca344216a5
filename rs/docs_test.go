package rs_test

import (
	"os"
	"strings"
	"testing"
)

// TestDocsSnippets checks that the code in docs/sdk-resource-server.md is
// the code of the example tests, which run.
func TestDocsSnippets(t *testing.T) {
	doc, err := os.ReadFile("../docs/sdk-resource-server.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	example := string(src)
	_, rest, ok := strings.Cut(example, "\t// docs:begin\n")
	quick, _, ok2 := strings.Cut(rest, "\t// docs:end\n")
	if !ok || !ok2 {
		t.Fatal("example_test.go has no docs:begin/docs:end block")
	}
	i := strings.Index(example, "func payment(")
	j := strings.Index(example[i:], "\n}\n")
	if i < 0 || j < 0 {
		t.Fatal("example_test.go has no payment handler")
	}
	for name, snippet := range map[string]string{
		"quick start":      outdent(quick),
		"deciding in code": example[i : i+j+3],
	} {
		if !strings.Contains(string(doc), "```go\n"+snippet+"```\n") {
			t.Errorf("docs/sdk-resource-server.md lacks the %s code of example_test.go:\n%s", name, snippet)
		}
	}
}

// outdent removes one leading tab from every line.
func outdent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "\t")
	}
	return strings.Join(lines, "")
}
