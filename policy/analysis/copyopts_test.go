package analysis

import (
	"errors"
	"reflect"
	"testing"
)

func TestCopyOptions(t *testing.T) {
	cases := []struct {
		name string
		text string
		want Copy
	}{
		{"text defaults", "COPY t TO STDOUT",
			Copy{Table: "public.t", Format: "text", Delimiter: "\t", Null: `\N`}},
		{"csv defaults", "COPY s.t (a, b) TO STDOUT WITH (FORMAT csv)",
			Copy{Table: "s.t", Columns: []string{"a", "b"}, Format: "csv", Delimiter: ",", Quote: `"`, Escape: `"`}},
		{"csv options", `COPY t TO STDOUT WITH (FORMAT csv, DELIMITER ';', HEADER, NULL 'x', QUOTE '''', ESCAPE '\', FORCE_QUOTE (a, b), ENCODING 'LATIN1')`,
			Copy{Table: "public.t", Format: "csv", Delimiter: ";", Null: "x", Quote: "'", Escape: `\`, Header: true,
				Encoding: "LATIN1", ForceQuote: []string{"a", "b"}}},
		{"old syntax", "COPY t (a) TO STDOUT CSV HEADER DELIMITER '|' FORCE QUOTE *",
			Copy{Table: "public.t", Columns: []string{"a"}, Format: "csv", Delimiter: "|", Quote: `"`, Escape: `"`, Header: true, ForceQuoteAll: true}},
		{"binary", "COPY t TO STDOUT BINARY", Copy{Table: "public.t", Format: "binary"}},
		{"query", "COPY (SELECT ssn FROM customers) TO STDOUT WITH (FORMAT text, DELIMITER ',', HEADER false)",
			Copy{Query: true, Format: "text", Delimiter: ",", Null: `\N`}},
		{"header as string and integer", "COPY t TO STDOUT (HEADER 'on')",
			Copy{Table: "public.t", Format: "text", Delimiter: "\t", Null: `\N`, Header: true}},
		{"header zero", "COPY t TO STDOUT (HEADER 0)",
			Copy{Table: "public.t", Format: "text", Delimiter: "\t", Null: `\N`}},
		{"from with match", "COPY t FROM STDIN (FORMAT csv, HEADER match, FORCE_NOT_NULL (a))",
			Copy{From: true, Table: "public.t", Format: "csv", Delimiter: ",", Quote: `"`, Escape: `"`, Header: true, HeaderMatch: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CopyOptions(c.text, scsOn)
			if err != nil {
				t.Fatalf("CopyOptions(%q): %v", c.text, err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("CopyOptions(%q):\n got  %+v\n want %+v", c.text, *got, c.want)
			}
		})
	}
}

func TestCopyOptionsScs(t *testing.T) {
	// With standard_conforming_strings off, '\t' is a tab.
	got, err := CopyOptions(`COPY t TO STDOUT (DELIMITER '\t')`, Options{})
	if err != nil || got.Delimiter != "\t" {
		t.Errorf("scs off: %+v, %v; want a tab delimiter", got, err)
	}
	got, err = CopyOptions(`COPY t TO STDOUT (DELIMITER '\t')`, scsOn)
	if err != nil || got.Delimiter != `\t` {
		t.Errorf("scs on: %+v, %v; want backslash-t", got, err)
	}
}

func TestCopyOptionsErrors(t *testing.T) {
	for _, text := range []string{
		"SELECT 1",
		"COPY t TO STDOUT; COPY t TO STDOUT",
		"COPY t TO STDOUT (FORMAT 'CSV')",
		"COPY t TO STDOUT (FORMAT csv, FORMAT text)",
		"COPY t TO STDOUT (HEADER 2)",
		"COPY t TO STDOUT (DELIMITER 1)",
		"COPY t TO STDOUT (BOGUS 1)",
		"COPY t TO",
	} {
		if c, err := CopyOptions(text, scsOn); err == nil {
			t.Errorf("CopyOptions(%q) = %+v, want an error", text, c)
		}
	}
	if _, err := CopyOptions("SELECT 1", scsOn); !errors.Is(err, ErrNotCopy) {
		t.Errorf("CopyOptions(SELECT): %v, want ErrNotCopy", err)
	}
	if _, err := CopyOptions("COPY t TO", scsOn); !errors.Is(err, ErrParse) {
		t.Errorf("CopyOptions(syntax error): %v, want ErrParse", err)
	}
}
