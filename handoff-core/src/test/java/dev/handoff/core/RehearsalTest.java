package dev.handoff.core;

import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.session.SharedSecret;
import dev.handoff.core.testing.OpenFds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The handoff a process rehearses with itself at start-up, in both roles, before a real one needs that code. */
@Timeout(60)
class RehearsalTest {

    @TempDir
    Path temp;

    @Test
    void aRehearsalMovesItsConnectionWithAndWithoutASecretAndLeavesNoDescriptorFileOrThreadBehind() throws Exception {
        Rehearsal.run(temp, null, FdLimits.DEFAULT); // the JDK's and junixsocket's one-time descriptors
        OpenFds before = OpenFds.snapshot();
        Rehearsal.run(temp, null, FdLimits.DEFAULT);
        Rehearsal.run(temp, new SharedSecret("a secret of the test's own".getBytes(StandardCharsets.UTF_8)), FdLimits.DEFAULT);
        before.assertNoLeak();
        assertEquals(List.of(), entries(temp), "the rehearsal's directory and sockets are gone");
        assertNoRehearsalThreadLeft();
    }

    @Test
    void aRehearsalThatCannotCompleteSaysWhyAndLeavesNothingBehind() throws Exception {
        Rehearsal.run(temp, null, FdLimits.DEFAULT);
        OpenFds before = OpenFds.snapshot();
        // 64 bytes: smaller than the successor's hello, so the handshake fails on the incumbent's side.
        IOException failed = assertThrows(IOException.class, () -> Rehearsal.run(temp, null, new FdLimits(64, 100)));
        assertTrue(failed.getMessage().contains("rehearsal"), failed.getMessage());
        before.assertNoLeak();
        assertEquals(List.of(), entries(temp));
        assertNoRehearsalThreadLeft();
    }

    @Test
    void aRehearsalWithNowhereToPutItsSocketFailsBeforeItOpensAnything() throws Exception {
        Path notADirectory = Files.writeString(temp.resolve("file"), "");
        OpenFds before = OpenFds.snapshot();
        assertThrows(IOException.class, () -> Rehearsal.run(notADirectory, null, FdLimits.DEFAULT));
        before.assertNoLeak();
        assertEquals(List.of(notADirectory), entries(temp));
    }

    private static List<Path> entries(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.toList();
        }
    }

    /** Its incumbent's thread, and the lifeline readers both sessions started, end with it (or a moment after). */
    private static void assertNoRehearsalThreadLeft() throws InterruptedException {
        String pid = Long.toString(ProcessHandle.current().pid());
        List<String> left = List.of();
        for (int i = 0; i < 100; i++) {
            left = Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
                    .filter(name -> name.equals("handoff-rehearsal") || name.startsWith("handoff-lifeline-") && name.endsWith("-" + pid))
                    .toList();
            if (left.isEmpty()) {
                return;
            }
            Thread.sleep(20);
        }
        assertEquals(List.of(), left, "threads the rehearsal started and did not end");
    }
}
