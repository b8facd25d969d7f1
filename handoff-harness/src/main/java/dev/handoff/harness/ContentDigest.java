package dev.handoff.harness;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * What a class-path file holds, in a few hex digits, read quickly: for a jar (a zip), a digest of its central
 * directory, which names every entry with its CRC-32 and sizes (a few kilobytes at the end of the file, however
 * large the jar); for anything else, a digest of the whole file. Size and modification time do not tell a
 * rebuilt jar from the one before it when the build is reproducible: its entries and the file itself (Spring
 * Boot's repackaging) carry the same fixed time.
 */
final class ContentDigest {

    private static final int END_OF_CENTRAL_DIRECTORY = 0x06054b50;
    private static final int END_RECORD_SIZE = 22;
    private static final int MAX_COMMENT = 0xFFFF;

    private ContentDigest() {
    }

    static String of(Path file) throws IOException {
        MessageDigest digest = sha256();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long[] directory = centralDirectory(channel);
            long from = directory == null ? 0 : directory[0];
            long to = directory == null ? channel.size() : directory[0] + directory[1];
            ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            for (long position = from; position < to; ) {
                buffer.clear().limit((int) Math.min(buffer.capacity(), to - position));
                int read = channel.read(buffer, position);
                if (read < 0) {
                    break;
                }
                digest.update(buffer.flip());
                position += read;
            }
        }
        return HexFormat.of().formatHex(digest.digest(), 0, 12);
    }

    /** Offset and size of a zip's central directory, or null if this is no zip (or a zip64 one). */
    private static long[] centralDirectory(FileChannel channel) throws IOException {
        long size = channel.size();
        int tail = (int) Math.min(size, END_RECORD_SIZE + MAX_COMMENT);
        if (tail < END_RECORD_SIZE) {
            return null;
        }
        ByteBuffer end = ByteBuffer.allocate(tail).order(ByteOrder.LITTLE_ENDIAN);
        channel.read(end, size - tail);
        for (int at = tail - END_RECORD_SIZE; at >= 0; at--) {
            if (end.getInt(at) == END_OF_CENTRAL_DIRECTORY) {
                long directorySize = Integer.toUnsignedLong(end.getInt(at + 12));
                long offset = Integer.toUnsignedLong(end.getInt(at + 16));
                return offset + directorySize <= size - tail + at ? new long[]{offset, directorySize} : null;
            }
        }
        return null;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
