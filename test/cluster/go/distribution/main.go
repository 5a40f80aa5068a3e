// Command registry is the CNCF distribution registry (github.com/distribution/distribution/v3) with only
// the filesystem storage driver: the local test cluster's image registry keeps its blobs in the
// cluster state directory, so upstream cmd/registry's S3, Azure and GCS drivers (and their SDKs) and
// its proxy back end are left out. The htpasswd (Basic) and token (Bearer, as Docker Hub, GHCR and
// Harbor use) access controllers are in: the store tests (test/stores) and the oci:// model tests run
// registries that require credentials either way, and `registry htpasswd <user>` writes a bcrypt
// entry, so no other tool (htpasswd from apache2-utils, a bcrypt package) is needed.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
)

// htpasswdCmd prints the htpasswd line of a user whose password is read from stdin (one line), so
// the password never appears in a command line.
var htpasswdCmd = &cobra.Command{
	Use:   "htpasswd <user>",
	Short: "print `<user>:<bcrypt hash>` for the password read from stdin",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		password, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && password == "" {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(strings.TrimSuffix(password, "\n")), bcrypt.DefaultCost)
		if err != nil {
			return fmt.Errorf("hash password of %s: %w", args[0], err)
		}
		fmt.Printf("%s:%s\n", args[0], hash)
		return nil
	},
}

func main() {
	registry.RootCmd.AddCommand(htpasswdCmd)
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
