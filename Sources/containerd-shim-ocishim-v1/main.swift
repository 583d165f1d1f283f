import ContainerdFrontend

// containerd's runtime `io.containerd.ocishim.v1` (docs/CONTAINERD.md).
ShimMain.main(CommandLine.arguments)
