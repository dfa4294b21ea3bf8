package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// jsonProblems lists every problem of a config file's JSON against the
// type of dst at once: keys it does not have (with their path), values of
// the wrong type, and the custom decoders' refusals (a bad duration).
// encoding/json stops at the first; an operator fixing a file wants them
// all. It decodes nothing into dst. raw is valid JSON.
func jsonProblems(raw []byte, dst any) []string {
	var out []string
	walkJSON(raw, reflect.TypeOf(dst).Elem(), "", &out)
	return out
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func walkJSON(raw []byte, t reflect.Type, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := path
	if name == "" {
		name = "the file"
	}
	// A type with its own decoder, or not a struct: decode the value alone
	// and report its error. A struct with its own decoder (a block that
	// fills defaults) that refuses an object is gone through field by
	// field, for every problem rather than its first.
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() != reflect.Struct {
		v := reflect.New(t)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err := dec.Decode(v.Interface())
		if err == nil {
			return
		}
		if t.Kind() == reflect.Struct && jsonKind(raw) == "an object" {
			n := len(*out)
			walkFields(raw, t, path, out)
			if len(*out) > n {
				return
			}
		}
		msg := describe(err)
		if !strings.HasPrefix(msg, path+":") && !strings.HasPrefix(msg, path+".") {
			msg = name + ": " + msg
		}
		*out = append(*out, msg)
		return
	}
	walkFields(raw, t, path, out)
}

// walkFields goes through the keys of the object raw against the fields
// of struct type t.
func walkFields(raw []byte, t reflect.Type, path string, out *[]string) {
	name := path
	if name == "" {
		name = "the file"
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		*out = append(*out, fmt.Sprintf("%s: an object, not %s", name, jsonKind(raw)))
		return
	}
	fields := jsonFields(t)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := k
		if path != "" {
			p = path + "." + k
		}
		ft, ok := fields[k]
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: unknown key", p))
			continue
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(unmarshalerType) {
			var items []json.RawMessage
			if err := json.Unmarshal(obj[k], &items); err != nil {
				*out = append(*out, fmt.Sprintf("%s: a list, not %s", p, jsonKind(obj[k])))
				continue
			}
			for i, item := range items {
				walkJSON(item, ft.Elem(), fmt.Sprintf("%s[%d]", p, i), out)
			}
			continue
		}
		walkJSON(obj[k], ft, p, out)
	}
}

// jsonFields maps the JSON keys of struct type t to their field types,
// as encoding/json names them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		m[tag] = f.Type
	}
	return m
}

// describe says what a decoder refused, without encoding/json's Go type
// names where it can.
func describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.Kind().String()
		switch te.Type.Kind() {
		case reflect.Slice, reflect.Array:
			want = "a list"
		case reflect.Map, reflect.Struct:
			want = "an object"
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			want = "a number"
		}
		got := te.Value
		switch {
		case strings.HasPrefix(got, "number"):
			got = "a " + got
		case got == "string":
			got = "a string"
		case got == "bool":
			got = "a boolean"
		case got == "array":
			got = "a list"
		case got == "object":
			got = "an object"
		}
		return fmt.Sprintf("%s, not %s", want, got)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names the kind of a JSON value.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
