// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title MiniResolver
/// @notice A minimal public resolver for tests: addr (EIP-137) and name (EIP-181) records.
/// @dev TEST CONTRACT ONLY: there is no authorization at all, anyone may set any record.
/// A real resolver checks that the caller owns the node in the registry.
contract MiniResolver {
    mapping(bytes32 => address) private addresses;
    mapping(bytes32 => string) private names;

    event AddrChanged(bytes32 indexed node, address a);
    event NameChanged(bytes32 indexed node, string name);

    function addr(bytes32 node) external view returns (address) {
        return addresses[node];
    }

    function setAddr(bytes32 node, address a) external {
        addresses[node] = a;
        emit AddrChanged(node, a);
    }

    function name(bytes32 node) external view returns (string memory) {
        return names[node];
    }

    function setName(bytes32 node, string calldata name_) external {
        names[node] = name_;
        emit NameChanged(node, name_);
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == 0x3b3b57de // addr(bytes32)
            || interfaceId == 0x691f3431 // name(bytes32)
            || interfaceId == 0x01ffc9a7; // supportsInterface(bytes4), EIP-165
    }
}
