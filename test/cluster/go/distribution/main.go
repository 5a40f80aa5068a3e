// Command registry is the CNCF distribution registry (github.com/distribution/distribution/v3) with only
// the filesystem storage driver: the local test cluster's image registry keeps its blobs in the
// cluster state directory, so upstream cmd/registry's S3, Azure and GCS drivers (and their SDKs) and
// its auth and proxy back ends are left out.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
