package main

import (
	"os"
	"path/filepath"

	sdk "github.com/cosmos/cosmos-sdk/types"

	wasmtypes "github.com/CosmWasm/wasmd/x/wasm/types"
)

// The same prefix and fee denom as the devnet (mesh/devnet), so the same keys and configs work.
const (
	Prefix   = "havn"
	FeeDenom = "uhavn"
	// The devnet's minimum gas price, the default of every havnd node.
	MinGasPrices = "0.025" + FeeDenom
)

func defaultHome() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".havnd"
	}
	return filepath.Join(home, ".havnd")
}

// setPrefixes makes every address this process prints or parses a havn1… one. It must run
// before the app is built: wasmd's app reads the prefix from the global config.
func setPrefixes() {
	cfg := sdk.GetConfig()
	cfg.SetBech32PrefixForAccount(Prefix, Prefix+sdk.PrefixPublic)
	cfg.SetBech32PrefixForValidator(Prefix+sdk.PrefixValidator+sdk.PrefixOperator,
		Prefix+sdk.PrefixValidator+sdk.PrefixOperator+sdk.PrefixPublic)
	cfg.SetBech32PrefixForConsensusNode(Prefix+sdk.PrefixValidator+sdk.PrefixConsensus,
		Prefix+sdk.PrefixValidator+sdk.PrefixConsensus+sdk.PrefixPublic)
	// Contract addresses are 32 bytes, accounts 20: accept both.
	cfg.SetAddressVerifier(wasmtypes.VerifyAddressLen())
	cfg.Seal()
}
