package main

import (
	"os"

	cmtcfg "github.com/cometbft/cometbft/config"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/spf13/cobra"

	"cosmossdk.io/log"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/config"
	"github.com/cosmos/cosmos-sdk/client/keys"
	"github.com/cosmos/cosmos-sdk/client/rpc"
	"github.com/cosmos/cosmos-sdk/server"
	serverconfig "github.com/cosmos/cosmos-sdk/server/config"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	authcmd "github.com/cosmos/cosmos-sdk/x/auth/client/cli"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	"github.com/cosmos/cosmos-sdk/x/crisis"
	genutilcli "github.com/cosmos/cosmos-sdk/x/genutil/client/cli"

	"github.com/CosmWasm/wasmd/app"
	"github.com/CosmWasm/wasmd/x/wasm"
	wasmkeeper "github.com/CosmWasm/wasmd/x/wasm/keeper"
	wasmtypes "github.com/CosmWasm/wasmd/x/wasm/types"
)

// appConfig is app.toml: the SDK's server settings plus x/wasm's node settings.
type appConfig struct {
	serverconfig.Config `mapstructure:",squash"`
	Wasm                wasmtypes.NodeConfig `mapstructure:"wasm"`
}

func defaultAppConfig() (string, interface{}) {
	srv := serverconfig.DefaultConfig()
	srv.MinGasPrices = MinGasPrices
	return serverconfig.DefaultConfigTemplate + wasmtypes.DefaultConfigTemplate(),
		appConfig{Config: *srv, Wasm: wasmtypes.DefaultNodeConfig()}
}

func newRootCmd() *cobra.Command {
	setPrefixes()
	home := defaultHome()

	// A throwaway app gives the codecs and the module list the commands need.
	scratch, err := os.MkdirTemp("", "havnd")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(scratch)
	tmp := app.NewWasmApp(log.NewNopLogger(), dbm.NewMemDB(), nil, false,
		simtestutil.NewAppOptionsWithFlagHome(scratch), []wasmkeeper.Option{})

	clientCtx := client.Context{}.
		WithCodec(tmp.AppCodec()).
		WithInterfaceRegistry(tmp.InterfaceRegistry()).
		WithTxConfig(tmp.TxConfig()).
		WithLegacyAmino(tmp.LegacyAmino()).
		WithInput(os.Stdin).
		WithAccountRetriever(authtypes.AccountRetriever{}).
		WithHomeDir(home).
		WithViper("HAVND")

	root := &cobra.Command{
		Use:           "havnd",
		Short:         "Havn's chain: CometBFT, the Cosmos SDK and x/wasm (wasmd v0.54)",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(cmd.OutOrStdout())
			cmd.SetErr(cmd.ErrOrStderr())
			ctx, err := client.ReadPersistentCommandFlags(clientCtx.WithCmdContext(cmd.Context()), cmd.Flags())
			if err != nil {
				return err
			}
			if ctx, err = config.ReadFromClientConfig(ctx); err != nil {
				return err
			}
			if err := client.SetCmdClientContextHandler(ctx, cmd); err != nil {
				return err
			}
			template, appCfg := defaultAppConfig()
			return server.InterceptConfigsPreRunHandler(cmd, template, appCfg, cmtcfg.DefaultConfig())
		},
	}

	basics := tmp.BasicModuleManager
	root.AddCommand(genutilcli.InitCmd(basics, home))
	server.AddCommands(root, home, newApp, exportApp, func(start *cobra.Command) {
		crisis.AddModuleInitFlags(start)
		wasm.AddModuleInitFlags(start)
	})
	root.AddCommand(
		server.StatusCommand(),
		genutilcli.Commands(tmp.TxConfig(), basics, home),
		queryCmd(),
		txCmd(),
		keys.Commands(),
	)

	// Every module's query and tx commands (`havnd query wasm …`), from their AutoCLI descriptors.
	auto := tmp.AutoCliOpts()
	clientCtx, _ = config.ReadFromClientConfig(clientCtx)
	auto.ClientCtx = clientCtx
	if err := auto.EnhanceRootCommand(root); err != nil {
		panic(err)
	}
	return root
}

func queryCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "query", Aliases: []string{"q"}, Short: "Query the chain", RunE: client.ValidateCmd}
	cmd.AddCommand(
		rpc.QueryEventForTxCmd(),
		server.QueryBlockCmd(),
		server.QueryBlocksCmd(),
		server.QueryBlockResultsCmd(),
		authcmd.QueryTxCmd(),
		authcmd.QueryTxsByEventsCmd(),
	)
	return cmd
}

func txCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tx", Short: "Sign and send transactions", RunE: client.ValidateCmd}
	cmd.AddCommand(
		authcmd.GetSignCommand(),
		authcmd.GetBroadcastCommand(),
		authcmd.GetEncodeCommand(),
		authcmd.GetDecodeCommand(),
		authcmd.GetSimulateCmd(),
	)
	return cmd
}
