package dev.handoff.harness;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code train}'s bad inputs: each a clear message, and no archive left behind that could pass for a good one. */
@Timeout(60)
class TrainerTest {

    @TempDir
    Path temp;

    private final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Test
    void optionsItCannotUseAreRefusedWithTheUsage() {
        IllegalArgumentException noArchive = assertThrows(IllegalArgumentException.class,
                () -> Trainer.run(List.of("--", java, "-version")));
        assertTrue(noArchive.getMessage().startsWith("train needs --archive PATH; usage:"), noArchive.getMessage());
        IllegalArgumentException noCommand = assertThrows(IllegalArgumentException.class,
                () -> Trainer.run(List.of("--archive", temp.resolve("a").toString())));
        assertTrue(noCommand.getMessage().startsWith("train needs -- <server command...>"), noCommand.getMessage());
        IllegalArgumentException badAddress = assertThrows(IllegalArgumentException.class,
                () -> Trainer.run(List.of("--archive", temp.resolve("a").toString(), "--http", "8080", "--", java)));
        assertEquals("--http wants HOST:PORT, not 8080", badAddress.getMessage());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> Trainer.run(List.of("--archive", temp.resolve("a").toString(), "--fast", "--", java)));
        assertTrue(unknown.getMessage().startsWith("unknown train options [--fast]"), unknown.getMessage());
    }

    /** A command that ends before it is ready fails the training, and an archive from an earlier run is gone. */
    @Test
    void aServerThatExitsBeforeItIsReadyFailsTheTrainingAndLeavesNoArchive() throws Exception {
        Path archive = Files.writeString(temp.resolve("app.archive"), "an earlier, stale archive");
        Files.writeString(temp.resolve("app.archive.fingerprint"), "java.vm.version=0");
        String output = captured(() -> assertEquals(1, Trainer.run(List.of("--archive", archive.toString(), "--", java, "-version"))));
        assertTrue(output.contains("TRAIN failed: the first generation exited with status 0 before its output matched "
                + "'READY generation \\d+'"), output);
        assertFalse(Files.exists(archive));
        assertFalse(Files.exists(temp.resolve("app.archive.fingerprint")));
    }

    private interface Action {
        void run() throws Exception;
    }

    private static String captured(Action action) throws Exception {
        PrintStream original = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setOut(original);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
