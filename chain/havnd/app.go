package main

import (
	"errors"
	"io"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/spf13/viper"

	"cosmossdk.io/log"

	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/server"
	servertypes "github.com/cosmos/cosmos-sdk/server/types"

	"github.com/CosmWasm/wasmd/app"
	wasmkeeper "github.com/CosmWasm/wasmd/x/wasm/keeper"
)

// newApp is what `havnd start` runs: wasmd's app, unchanged.
func newApp(logger log.Logger, db dbm.DB, trace io.Writer, opts servertypes.AppOptions) servertypes.Application {
	return app.NewWasmApp(logger, db, trace, true, opts, []wasmkeeper.Option{},
		server.DefaultBaseappOptions(opts)...)
}

// exportApp is `havnd export`: the state at a height as a genesis file.
func exportApp(logger log.Logger, db dbm.DB, trace io.Writer, height int64, forZeroHeight bool,
	jailAllowed []string, opts servertypes.AppOptions, modules []string,
) (servertypes.ExportedApp, error) {
	if home, _ := opts.Get(flags.FlagHome).(string); home == "" {
		return servertypes.ExportedApp{}, errors.New("export needs --home")
	}
	v, ok := opts.(*viper.Viper)
	if !ok {
		return servertypes.ExportedApp{}, errors.New("export: app options are not a viper")
	}
	// Check invariants on every block of the export.
	v.Set(server.FlagInvCheckPeriod, 1)
	a := app.NewWasmApp(logger, db, trace, height == -1, v, []wasmkeeper.Option{})
	if height != -1 {
		if err := a.LoadHeight(height); err != nil {
			return servertypes.ExportedApp{}, err
		}
	}
	return a.ExportAppStateAndValidators(forZeroHeight, jailAllowed, modules)
}
