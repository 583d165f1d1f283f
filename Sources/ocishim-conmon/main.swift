// ocishim-conmon: conmon's command-line interface on the ocishim core
// (Sources/ConmonFrontend). `podman --conmon /path/to/ocishim-conmon ...`.
import ConmonFrontend

ConmonFrontend.main(CommandLine.arguments)
