import Glibc
import ShimSystem
import XCTest
@testable import ConmonFrontend

/// conmon 2.1.6's control FIFOs, quirks and all (the differential scenarios
/// compare the same lines against stock conmon on real terminals).
final class ConmonControlTests: XCTestCase {
    /// glibc's sscanf("%d %d %d").
    func testScanningAsSscanfDoes() {
        func scan(_ text: String, _ count: Int = 3) -> (Int, [Int32]) {
            ConmonControl.scanIntegers(Array(text.utf8), count: count)
        }
        XCTAssertEqual(scan("1 40 100\n").0, 3)
        XCTAssertEqual(scan("1 40 100\n").1, [1, 40, 100])
        XCTAssertEqual(scan("  1\t42   102  \n").1, [1, 42, 102])
        XCTAssertEqual(scan("1 40\n").0, 2)
        XCTAssertEqual(scan("1 40.5 100\n").0, 2, "a decimal point stops %d")
        XCTAssertEqual(scan("1 0x20 80\n").0, 2, "%d is decimal: 0, then x stops it")
        XCTAssertEqual(scan("1 040 0100\n").1, [1, 40, 100], "leading zeros are decimal")
        XCTAssertEqual(scan("1 -1 80\n").1, [1, -1, 80])
        XCTAssertEqual(scan("\n").0, -1, "EOF before the first conversion")
        XCTAssertEqual(scan("hello\n").0, 0)
        // strtol's clamp cut to int, as glibc stores %d.
        XCTAssertEqual(scan("1 99999999999999999999 5\n").1, [1, -1, 5])
        XCTAssertEqual(scan("1 4294967297 5\n").1, [1, 1, 5])
    }

    private var dir = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/ctltest.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        dir = String(cString: try XCTUnwrap(made))
    }

    override func tearDown() {
        for name in ["ctl", "winsz"] { unlink(dir + "/" + name) }
        rmdir(dir)
    }

    /// Lines written to `ctl` (each write separate), the sizes the
    /// terminal got, in order.
    private func resizes(_ writes: [String], terminal: Bool = true, reopens: UnsafeMutablePointer<Int>? = nil) throws -> [String] {
        let loop = try EventLoop()
        let control = try ConmonControl(bundle: dir, loop: loop)
        defer { control.stop() }
        var sizes: [String] = []
        control.resize = { rows, columns in sizes.append("\(rows)x\(columns)") }
        control.reopenLog = { reopens?.pointee += 1 }
        if terminal { control.startWindowSize() }
        let fd = open(dir + "/ctl", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        defer { close(fd) }
        for text in writes {
            _ = text.withCString { write(fd, $0, strlen($0)) }
            for _ in 0..<6 { loop.turn(maxWaitMillis: 20) }
        }
        return sizes
    }

    func testResizeGoesThroughWinszToTheTerminal() throws {
        XCTAssertEqual(try resizes(["1 40 100\n"]), ["40x100"])
        XCTAssertEqual(try resizes(["1 65537 70000\n"]), ["1x4464"], "unsigned shorts, as the ioctl takes them")
        XCTAssertEqual(try resizes(["1 -1 80\n"]), ["65535x80"])
    }

    /// conmon handles the line at the start of its buffer once per newline.
    func testTwoLinesInOneWriteRepeatTheFirst() throws {
        XCTAssertEqual(try resizes(["1 10 20\n1 45 105\n"]), ["10x20", "10x20"])
    }

    /// A line that does not parse drops the rest of its read; the next
    /// read is handled again.
    func testABadLineDropsTheRestOfItsRead() throws {
        XCTAssertEqual(try resizes(["hello\n1 30 40\n", "1 46 106\n"]), ["46x106"])
        XCTAssertEqual(try resizes(["1 40\n"]), [])
        XCTAssertEqual(try resizes(["7 0 0\n", "1 41 101\n"]), ["41x101"], "an unknown type is only warned about")
    }

    func testALineInPiecesAndAnOverlongLine() throws {
        XCTAssertEqual(try resizes(["1 44", " 104\n"]), ["44x104"])
        XCTAssertEqual(try resizes(["1 " + String(repeating: "1", count: 250) + "\n", "1 43 103\n"]), ["43x103"])
    }

    /// Without a terminal nobody reads winsz: no resize happens.
    func testNoResizeWithoutATerminal() throws {
        XCTAssertEqual(try resizes(["1 30 90\n"], terminal: false), [])
    }

    func testTypeTwoReopensTheLog() throws {
        var count = 0
        XCTAssertEqual(try resizes(["2 0 0\n"], reopens: &count), [])
        XCTAssertEqual(count, 1)
    }

    /// The FIFOs stay in the bundle after the monitor stops, as conmon's.
    func testTheFIFOsStay() throws {
        _ = try resizes([])
        for name in ["ctl", "winsz"] {
            var info = stat()
            XCTAssertEqual(stat(dir + "/" + name, &info), 0, name)
            XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO, name)
        }
    }
}
