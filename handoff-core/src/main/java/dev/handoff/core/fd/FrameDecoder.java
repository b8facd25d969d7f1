package dev.handoff.core.fd;

import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Reads one message of the fd channel (its chunks, see {@link FdChannel}) from a source of bytes and
 * descriptors, checking every header field before it trusts it. Kept apart from the socket so that it
 * can be fed any bytes at all (the fuzz tests do).
 */
final class FrameDecoder {

    /** Where the bytes come from; descriptors that arrive with them are added to {@code fds}. */
    interface Source {
        /**
         * Like {@link java.io.InputStream#read(byte[], int, int)}. {@code stalled} says how far the
         * message had got, or is null before its first byte (for the timeout message).
         */
        int read(byte[] buffer, int offset, int length, List<FileDescriptor> fds, String stalled) throws IOException;

        /** Why the stream ended between two messages. */
        String endOfStream();
    }

    private FrameDecoder() {
    }

    /** Decodes the next message; on any error the caller closes what {@code fds} collected. */
    static FdMessage decode(Source source, FdLimits limits, List<FileDescriptor> fds) throws IOException {
        byte[] header = new byte[FdChannel.HEADER_BYTES];
        boolean first = true;
        while (true) {
            int before = fds.size();
            readFully(source, header, fds, first);
            first = false;
            ByteBuffer fields = ByteBuffer.wrap(header);
            int magic = fields.getInt();
            if (magic != FdChannel.MAGIC) {
                throw new FdChannelException(FdChannelException.Kind.MALFORMED,
                        String.format("not a Handoff fd message (magic 0x%08x, expected 0x%08x)", magic, FdChannel.MAGIC));
            }
            int flags = fields.get() & 0xff;
            fields.get(); // reserved
            int announced = fields.getShort() & 0xffff;
            int payloadLength = fields.getInt();
            boolean last = (flags & FdChannel.FLAG_LAST) != 0;
            int arrived = fds.size() - before;
            if (arrived != announced) {
                throw new FdChannelException(FdChannelException.Kind.TRUNCATED, "message announced " + announced
                        + " file descriptors but " + arrived + " arrived");
            }
            if (fds.size() > limits.maxFds()) {
                throw new FdChannelException(FdChannelException.Kind.TOO_LARGE, "more than " + limits.maxFds()
                        + " file descriptors in one message");
            }
            if (payloadLength < 0 || payloadLength > limits.maxPayloadBytes()) {
                throw new FdChannelException(FdChannelException.Kind.TOO_LARGE, "payload of "
                        + Integer.toUnsignedString(payloadLength) + " bytes exceeds the limit of " + limits.maxPayloadBytes());
            }
            if (!last) {
                if (payloadLength != 0) {
                    throw new FdChannelException(FdChannelException.Kind.MALFORMED, "payload in a non-final chunk");
                }
                if (announced == 0) {
                    // It carries nothing: a peer sending these could only be playing for time.
                    throw new FdChannelException(FdChannelException.Kind.MALFORMED, "an empty non-final chunk");
                }
                continue;
            }
            byte[] payload = new byte[payloadLength];
            int withHeader = fds.size();
            readFully(source, payload, fds, false);
            if (fds.size() != withHeader) {
                throw new FdChannelException(FdChannelException.Kind.MALFORMED, "file descriptors arrived inside a payload");
            }
            return new FdMessage(payload, fds);
        }
    }

    private static void readFully(Source source, byte[] buffer, List<FileDescriptor> fds, boolean atMessageStart)
            throws IOException {
        int offset = 0;
        while (offset < buffer.length) {
            String stalled = offset == 0 && atMessageStart ? null : offset + " bytes";
            int read = source.read(buffer, offset, buffer.length - offset, fds, stalled);
            if (read < 0) {
                if (offset == 0 && atMessageStart) {
                    throw new FdChannelException(FdChannelException.Kind.CLOSED, source.endOfStream());
                }
                throw new FdChannelException(FdChannelException.Kind.SHORT_READ, "stream ended after " + offset
                        + " of " + buffer.length + " bytes");
            }
            offset += read;
        }
    }
}
