package io.sluice.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.io.EOFException;
import java.io.IOException;
import java.util.zip.ZipException;
import org.junit.jupiter.api.Test;

/**
 * The status of a request that did not parse, for the failures grpc-java hands the parser when the
 * request was compressed (seen on the wire with grpc-encoding gzip: a bomb, a cut gzip stream).
 */
class RequestParsingTest {
    private static final String METHOD = "sluice.v1.Sluice/Publish";

    @Test
    void aSizeLimitMetWhileDecompressingKeepsItsStatus() {
        var bomb = new RuntimeException(Status.RESOURCE_EXHAUSTED
                .withDescription("Decompressed gRPC message exceeds maximum size 18874368").asRuntimeException());
        Status s = RequestParsing.unparsable(METHOD, bomb);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
        assertTrue(s.getDescription().contains("exceeds maximum size"), s.toString());
    }

    @Test
    void aCompressedRequestCutShortOrNotInItsEncodingSaysSo() {
        Status cut = RequestParsing.unparsable(METHOD, new RuntimeException(Status.INTERNAL
                .withDescription("Invalid protobuf byte sequence").withCause(new EOFException()).asRuntimeException()));
        assertEquals(Status.Code.INVALID_ARGUMENT, cut.getCode());
        assertTrue(cut.getDescription().contains("ends before it is whole"), cut.toString());
        Status notGzip = RequestParsing.unparsable(METHOD,
                new RuntimeException(new ZipException("Not in GZIP format")));
        assertEquals(Status.Code.INVALID_ARGUMENT, notGzip.getCode());
        assertTrue(notGzip.getDescription().contains("Not in GZIP format"), notGzip.toString());
    }

    @Test
    void aFailureWithoutAMessageIsNamedNotNull() {
        Status s = RequestParsing.unparsable(METHOD, new RuntimeException(new IOException()));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertFalse(s.getDescription().endsWith("null"), s.toString());
    }
}
