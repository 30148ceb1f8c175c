// havnd is Havn's chain: a CometBFT + Cosmos SDK + x/wasm node built on wasmd's app package,
// with Havn's address prefix and denom. It exists so the whole network runs unchanged on a real
// chain beside the fast embedded devnet (`havn network up --chain havnd`).
package main

import (
	"fmt"
	"os"

	svrcmd "github.com/cosmos/cosmos-sdk/server/cmd"
)

func main() {
	root := newRootCmd()
	if err := svrcmd.Execute(root, "HAVND", defaultHome()); err != nil {
		fmt.Fprintln(os.Stderr, "havnd:", err)
		os.Exit(1)
	}
}
