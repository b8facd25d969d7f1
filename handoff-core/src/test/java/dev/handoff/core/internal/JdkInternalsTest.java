package dev.handoff.core.internal;

import dev.handoff.core.testing.OpenFds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

@Timeout(10)
class JdkInternalsTest {

    @Test
    void aDuplicateIsANewDescriptorOfTheSamePipeThatOutlivesTheOriginalAndLeaksNothing() throws Exception {
        OpenFds before = OpenFds.snapshot();
        Pipe pipe = Pipe.open();
        FileDescriptor original = JdkInternals.fileDescriptor(pipe.sink());
        FileDescriptor copy = JdkInternals.duplicate(original);
        assertNotEquals(JdkInternals.fdNumber(original), JdkInternals.fdNumber(copy));
        try (FileOutputStream out = new FileOutputStream(copy); Pipe.SourceChannel source = pipe.source()) {
            pipe.sink().close();
            out.write(42);
            ByteBuffer read = ByteBuffer.allocate(1);
            assertEquals(1, source.read(read), "the byte written through the copy after the original closed");
            assertEquals(42, read.get(0));
        }
        before.assertNoLeak();
    }

    @Test
    void aClosedDescriptorIsNotDuplicated() {
        IOException e = assertThrows(IOException.class, () -> JdkInternals.duplicate(new FileDescriptor()));
        assertEquals("cannot duplicate a closed file descriptor", e.getMessage());
    }
}
