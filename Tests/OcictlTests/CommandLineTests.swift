import ArgumentParser
import XCTest
@testable import ocictl

/// How ocictl reads its command line: global options before the command,
/// "did you mean", several ids, runc's forms.
final class CommandLineTests: XCTestCase {
    func testGlobalOptionsBeforeTheCommandAreTakenOff() throws {
        let (options, rest) = try GlobalOptions.split(["--root", "/r", "--runtime-root=/rr", "ps", "--root", "/other"])
        XCTAssertEqual(options, GlobalOptions(root: "/r", runtimeRoot: "/rr"))
        XCTAssertEqual(rest, ["ps", "--root", "/other"], "after the command they are the command's")
        let (alias, _) = try GlobalOptions.split(["--state-root=/s", "state", "c1"])
        XCTAssertEqual(alias.root, "/s")
        let (none, kept) = try GlobalOptions.split(["--version"])
        XCTAssertNil(none.root)
        XCTAssertEqual(kept, ["--version"])
        XCTAssertThrowsError(try GlobalOptions.split(["--root"]))
    }

    func testTheRootIsTheCommandsThenTheGlobalThenTheEnvironment() {
        let saved = GlobalOptions.current
        defer { GlobalOptions.current = saved }
        unsetenv(GlobalOptions.rootVariable)
        GlobalOptions.current = GlobalOptions()
        XCTAssertEqual(GlobalOptions.stateRoot(commandOption: nil), "/run/ocishim")
        setenv(GlobalOptions.rootVariable, "/env", 1)
        defer { unsetenv(GlobalOptions.rootVariable) }
        XCTAssertEqual(GlobalOptions.stateRoot(commandOption: nil), "/env")
        GlobalOptions.current.root = "/global"
        XCTAssertEqual(GlobalOptions.stateRoot(commandOption: nil), "/global")
        XCTAssertEqual(GlobalOptions.stateRoot(commandOption: "/mine"), "/mine")
    }

    func testAnUnknownCommandGetsTheClosestNames() throws {
        let known = OCICtl.commandNames
        XCTAssertEqual(CommandSuggestion.unknownCommand(in: ["stat", "c1"], known: known)?.suggestions, ["start", "state"])
        XCTAssertEqual(CommandSuggestion.unknownCommand(in: ["lsit"], known: known)?.suggestions, ["list"])
        XCTAssertEqual(CommandSuggestion.unknownCommand(in: ["ex"], known: known)?.suggestions, ["exec"])
        XCTAssertEqual(CommandSuggestion.unknownCommand(in: ["zzzzzz"], known: known)?.suggestions, [])
        XCTAssertNil(CommandSuggestion.unknownCommand(in: ["state", "c1"], known: known))
        XCTAssertNil(CommandSuggestion.unknownCommand(in: ["--help"], known: known))
        let message = try XCTUnwrap(CommandSuggestion.unknownCommand(in: ["delet"], known: known)).message
        XCTAssertTrue(message.hasPrefix("ocictl: unknown command \"delet\"; did you mean \"delete\"?"), message)
    }

    func testListAndDeleteAreAliases() throws {
        XCTAssertTrue(try OCICtl.parseAsRoot(["list"]) is PS)
        XCTAssertTrue(try OCICtl.parseAsRoot(["delete", "c1", "c2"]) is Remove)
        XCTAssertTrue(try OCICtl.parseAsRoot(["unpause", "c1"]) is Resume)
    }

    func testKillTakesSeveralIdsAndTheSignalEitherWay() throws {
        let runc = try XCTUnwrap(try OCICtl.parseAsRoot(["kill", "--root", "/nonexistent", "c1", "KILL"]) as? Kill).targets()
        XCTAssertEqual(runc.ids, ["c1"])
        XCTAssertEqual(runc.signal, UInt32(SIGKILL))
        let option = try XCTUnwrap(try OCICtl.parseAsRoot(["kill", "-s", "USR1", "c1", "c2"]) as? Kill).targets()
        XCTAssertEqual(option.ids, ["c1", "c2"])
        XCTAssertEqual(option.signal, UInt32(SIGUSR1))
        let long = try XCTUnwrap(try OCICtl.parseAsRoot(["kill", "--signal", "9", "c1"]) as? Kill).targets()
        XCTAssertEqual(long.signal, 9)
        let plain = try XCTUnwrap(try OCICtl.parseAsRoot(["kill", "--root", "/nonexistent", "c1", "c2"]) as? Kill).targets()
        XCTAssertEqual(plain.ids, ["c1", "c2"], "a last word that is no signal is an id")
        XCTAssertEqual(plain.signal, UInt32(SIGTERM))
        XCTAssertThrowsError(try OCICtl.parseAsRoot(["kill", "-s", "NOPE", "c1"]))
    }

    func testExecTakesEverythingAfterTheIdAsTheCommand() throws {
        let exec = try XCTUnwrap(try OCICtl.parseAsRoot(["exec", "-t", "-i", "--user", "u", "c1", "sh", "-c", "id --user"]) as? Exec)
        XCTAssertEqual(exec.id, "c1")
        XCTAssertEqual(exec.user, "u")
        XCTAssertEqual(exec.arguments, ["sh", "-c", "id --user"])
        let dashes = try XCTUnwrap(try OCICtl.parseAsRoot(["exec", "-d", "c1", "--", "ls", "-l"]) as? Exec)
        XCTAssertEqual(dashes.arguments, ["ls", "-l"])
        XCTAssertTrue(dashes.detach)
    }

    func testRunRefusesRmWithDetach() {
        XCTAssertThrowsError(try OCICtl.parseAsRoot(["run", "-d", "--rm", "c1"]))
    }
}
