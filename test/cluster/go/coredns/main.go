// Command coredns is CoreDNS with only the plugins the local test cluster's DNS needs: the kubernetes
// plugin answers cluster.local from the API server; nothing is forwarded (the test machine has no
// outside DNS), so forward and the cloud back ends are left out, which keeps their SDKs out of the build.
package main

import (
	"log"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// directives is the execution order of the plugins above: the order of upstream's plugin.cfg,
// restricted to them (a Corefile naming any other plugin is rejected at start).
var directives = []string{
	"reload", "bind", "ready", "health", "prometheus", "errors", "log", "loadbalance",
	"cache", "hosts", "kubernetes", "loop",
}

func main() {
	if err := dnsserver.SetDirectives(directives); err != nil {
		log.Fatalf("coredns: set plugin directives: %v", err)
	}
	coremain.Run()
}
