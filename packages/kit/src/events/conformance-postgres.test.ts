import { conformanceSuite } from "./fixtures/conformance-suite.js";

conformanceSuite("postgres");
