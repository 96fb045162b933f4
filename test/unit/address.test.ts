import { expect } from "chai";
import { formatAddress, parseAddress } from "../../runtime/index.js";
import { validateActorName, validateToken } from "../../runtime/address.js";

describe("addresses", () => {
  it("addresses: format and parse as troupe://system@node/path", () => {
    const address = { system: "shop", node: "n-1", path: "/user/cart/item-3" };
    expect(formatAddress(address)).to.equal("troupe://shop@n-1/user/cart/item-3");
    expect(parseAddress(formatAddress(address))).to.deep.equal(address);
    expect(() => parseAddress("http://x")).to.throw(/troupe:\/\/system@node\/path/);
  });

  it("addresses: reject actor names that would break paths, with the rule in the message", () => {
    for (const bad of ["", "a/b", "$x", "has space", ".hidden", "x".repeat(129)]) {
      expect(() => validateActorName(bad), bad).to.throw(TypeError, /letters, digits/);
    }
    expect(validateActorName("worker-1.a_b~c")).to.equal("worker-1.a_b~c");
  });

  it("addresses: reject system names and node ids that are not single NATS subject tokens", () => {
    expect(() => validateToken("system name", "a.b")).to.throw(/NATS subjects/);
    expect(() => validateToken("node id", "a*")).to.throw(/NATS subjects/);
    expect(validateToken("subject prefix", "acme.troupe")).to.equal("acme.troupe");
  });
});
