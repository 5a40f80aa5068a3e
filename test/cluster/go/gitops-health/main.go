// Command gitops-health reads Kubernetes objects and says what two GitOps tools would show for each:
// Argo CD, by running a resource health script in gopher-lua the way Argo CD's controller does
// (util/lua: only the package, base and table libraries unless the script's override sets
// useOpenLibs; the object as the global `obj`; a one-second limit; the returned table's status must be
// one of Argo CD's health codes), and Flux, through kstatus (sigs.k8s.io/cli-utils), the library
// behind Flux's health checks and `kubectl wait`-style readiness in cli-utils.
//
// Usage: gitops-health --lua health.lua [--open-libs] < objects
// Input: one JSON object per line. Output: one JSON line per object:
//
//	{"argocd":{"status":"Healthy","message":"..."},"kstatus":{"status":"Current","message":"..."}}
//
// A script error or an invalid status is reported as Argo CD reports it (status "Unknown" for an
// invalid code; the error text in "error" for a failing script), never as a crash.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
}

type line struct {
	ArgoCD  verdict `json:"argocd"`
	KStatus verdict `json:"kstatus"`
}

// Argo CD's health codes (gitops-engine pkg/health); anything else becomes Unknown.
var healthCodes = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	script := flag.String("lua", "", "the health script (Lua)")
	openLibs := flag.Bool("open-libs", false, "open all standard libraries, as resource.customizations.useOpenLibs does")
	flag.Parse()
	if *script == "" {
		fmt.Fprintln(os.Stderr, "gitops-health: --lua <file> is required")
		os.Exit(2)
	}
	code, err := os.ReadFile(*script)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gitops-health: read %s: %v\n", *script, err)
		os.Exit(2)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		if len(in.Bytes()) == 0 {
			continue
		}
		// As both tools get it from the API machinery: integers as int64, not float64.
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(in.Bytes()); err != nil {
			fmt.Fprintf(os.Stderr, "gitops-health: parse an object: %v\n", err)
			os.Exit(2)
		}
		if err := out.Encode(line{ArgoCD: argoHealth(obj.Object, string(code), *openLibs), KStatus: kstatus(obj)}); err != nil {
			fmt.Fprintf(os.Stderr, "gitops-health: write: %v\n", err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "gitops-health: read stdin: %v\n", err)
		os.Exit(2)
	}
}

// argoHealth runs the script as Argo CD's controller runs a resource.customizations health script.
func argoHealth(obj map[string]interface{}, script string, openLibs bool) verdict {
	l := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), Protect: true}, lua.LString(name)); err != nil {
			return verdict{Status: "Unknown", Error: err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return verdict{Status: "Unknown", Error: err.Error()}
	}
	result, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return verdict{Status: "Unknown", Error: fmt.Sprintf("expect table output from Lua script, not %s", l.Get(-1).Type())}
	}
	v := verdict{Status: lua.LVAsString(result.RawGetString("status")), Message: lua.LVAsString(result.RawGetString("message"))}
	if !healthCodes[v.Status] {
		return verdict{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	return v
}

// toLua converts an object as Argo CD does: numbers become Lua numbers, objects tables keyed by
// name, arrays sequences.
func toLua(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.CreateTable(0, len(v))
		for key, item := range v {
			t.RawSetH(lua.LString(key), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

func kstatus(obj *unstructured.Unstructured) verdict {
	res, err := status.Compute(obj)
	if err != nil {
		return verdict{Status: "Unknown", Error: err.Error()}
	}
	return verdict{Status: res.Status.String(), Message: res.Message}
}
