# Local control plane (kube-apiserver, etcd, controller-manager, scheduler, kwok), built from Go modules.
e2e: build ## e2e tests against the local control plane
	$(JEST) --selectProjects e2e
