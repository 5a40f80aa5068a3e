// Command check validates the ModelDeployment CRD with kube-apiserver's own code, offline:
// the CRD as the API server validates it on create (structural schema, defaults, CEL compilation
// and cost budget), then every case of cases.json through the real defaulting, OpenAPI validation
// and CEL evaluation. Each case lists the field paths that must fail; the TypeScript validator is
// held to the same file by operator/src/api/cases.test.ts, so the two stay in agreement.
//
//	cd crds/check && go run . ../modeldeployments.modelship.dev.yaml cases.json
package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

type testCase struct {
	Name   string                 `json:"name"`
	Object map[string]interface{} `json:"object"`
	Errors []string               `json:"errors"`
	// For valid cases: the object after the API server's defaulting (the revision hash is computed
	// from it, so offline and in-cluster defaulting must agree).
	Defaulted map[string]interface{} `json:"defaulted,omitempty"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: check <crd.yaml> <cases.json>")
		os.Exit(2)
	}
	schema, err := loadCRD(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("CRD accepted by apiextensions validation")
	raw, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "read cases:", err)
		os.Exit(1)
	}
	var cases []testCase
	// utiljson decodes whole numbers as int64, as the API server does (CEL needs ints).
	if err := utiljson.Unmarshal(raw, &cases); err != nil {
		fmt.Fprintln(os.Stderr, "decode cases:", err)
		os.Exit(1)
	}
	failed := 0
	for _, c := range cases {
		if c.Defaulted != nil {
			got := schema.defaulted(c.Object)
			if !apiequality.Semantic.DeepEqual(got, c.Defaulted) {
				failed++
				gotJSON, _ := utiljson.Marshal(got)
				fmt.Printf("MISMATCH %s: defaulted object differs; API server code gives %s\n", c.Name, gotJSON)
			}
		}
		got := failingPaths(schema.validate(c.Object))
		want := slices.Clone(c.Errors)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			failed++
			fmt.Printf("MISMATCH %s: want %v, API server code says %v\n", c.Name, want, got)
			for _, e := range schema.validate(c.Object) {
				fmt.Printf("    %s\n", e.Error())
			}
		}
	}
	fmt.Printf("%d cases, %d mismatches\n", len(cases), failed)
	if failed > 0 {
		os.Exit(1)
	}
}

type crdSchema struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

func loadCRD(path string) (*crdSchema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CRD: %w", err)
	}
	v1crd := &apiextv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(raw, v1crd); err != nil {
		return nil, fmt.Errorf("decode CRD (strict): %w", err)
	}
	apiextv1.SetObjectDefaults_CustomResourceDefinition(v1crd)
	crd := &apiextensions.CustomResourceDefinition{}
	if err := apiextv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(v1crd, crd, nil); err != nil {
		return nil, fmt.Errorf("convert CRD: %w", err)
	}
	if errs := validation.ValidateCustomResourceDefinition(context.Background(), crd); len(errs) > 0 {
		return nil, fmt.Errorf("CRD rejected: %s", errs.ToAggregate().Error())
	}
	// With a single version, conversion moves the schema to spec.validation.
	props := crd.Spec.Validation.OpenAPIV3Schema
	structural, err := structuralschema.NewStructural(props)
	if err != nil {
		return nil, fmt.Errorf("structural schema: %w", err)
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(props)
	if err != nil {
		return nil, fmt.Errorf("schema validator: %w", err)
	}
	return &crdSchema{structural, openAPI, cel.NewValidator(structural, true, celconfig.PerCallLimit)}, nil
}

func (s *crdSchema) defaulted(obj map[string]interface{}) map[string]interface{} {
	obj = deepCopy(obj)
	structuraldefaulting.Default(obj, s.structural)
	return obj
}

func (s *crdSchema) validate(obj map[string]interface{}) field.ErrorList {
	obj = s.defaulted(obj)
	errs := apiservervalidation.ValidateCustomResource(nil, obj, s.openAPI)
	celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// failingPaths: the sorted unique field paths of the errors. Root-level rules report no field;
// their messages start with the path they are about ("metadata.name: ...").
func failingPaths(errs field.ErrorList) []string {
	paths := []string{}
	for _, e := range errs {
		p := e.Field
		if p == "" || p == "<nil>" {
			if detail, _, ok := strings.Cut(e.Detail, ":"); ok {
				p = detail
			}
		}
		if !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}

func deepCopy(obj map[string]interface{}) map[string]interface{} {
	raw, _ := utiljson.Marshal(obj)
	out := map[string]interface{}{}
	_ = utiljson.Unmarshal(raw, &out)
	return out
}
