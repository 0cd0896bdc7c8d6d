// wause-mcp: the engine served as an MCP endpoint. Everything lives in WauseMCPHost (C callbacks
// must not be defined in main.swift: Swift 6 would isolate them to the main actor).
import WauseMCPHost
#if canImport(Glibc)
import Glibc
#endif

exit(HostRunner.main(arguments: Array(CommandLine.arguments.dropFirst())))
