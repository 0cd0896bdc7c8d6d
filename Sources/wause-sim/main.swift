// wause-sim: a local WhatsApp-compatible server. Everything lives in the WauseSim library.
import WauseSim
#if canImport(Glibc)
import Glibc
#endif

exit(SimRunner.main(arguments: Array(CommandLine.arguments.dropFirst())))
