<?php
/**
 * The gateway's settings: defaults, reading the stored option and validating what the merchant typed.
 *
 * Stored by WooCommerce's settings API in the option `woocommerce_relay_settings` (DESIGN.md, "The
 * WooCommerce gateway plugin"): enabled (yes/no), title, description, relay_url, store, api_token.
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

/**
 * Settings of the relay gateway.
 */
class Relay_Payments_Settings {

	/**
	 * The option WooCommerce's settings API stores the gateway's settings in (plugin_id . id . '_settings').
	 */
	const OPTION = 'woocommerce_relay_settings';

	/**
	 * A store's name as the relay's config accepts it (relay/config.py `_NAME`).
	 */
	const STORE_PATTERN = '/^[a-z0-9][a-z0-9_-]{0,62}$/';

	/**
	 * Return the stored settings merged over the defaults.
	 *
	 * @return array{enabled: string, title: string, description: string, relay_url: string, store: string, api_token: string}
	 */
	public static function load() {
		$stored = get_option( self::OPTION, array() );
		if ( ! is_array( $stored ) ) {
			$stored = array();
		}
		$settings = array_merge( self::defaults(), array_intersect_key( $stored, self::defaults() ) );
		foreach ( $settings as $key => $value ) {
			$settings[ $key ] = is_string( $value ) ? $value : '';
		}
		return $settings;
	}

	/**
	 * Return the default value of every setting.
	 *
	 * @return array<string, string>
	 */
	public static function defaults() {
		return array(
			'enabled'     => 'no',
			'title'       => __( 'Pay with crypto', 'relay-payments' ),
			'description' => __( 'Pay in ETH or stablecoins; you are taken to the payment page after placing the order.', 'relay-payments' ),
			'relay_url'   => '',
			'store'       => '',
			'api_token'   => '',
		);
	}

	/**
	 * Whether the settings hold everything needed to call the relay.
	 *
	 * @param array<string, string> $settings Settings as load() returns them.
	 * @return bool
	 */
	public static function is_complete( $settings ) {
		return '' !== $settings['relay_url'] && '' !== $settings['store'] && '' !== $settings['api_token'];
	}

	/**
	 * Validate the relay's URL: http(s), a host, no query or fragment; returned without a trailing slash.
	 *
	 * @param mixed $value The posted value.
	 * @return string The URL to store.
	 * @throws InvalidArgumentException With a message for the merchant when the URL is unusable.
	 */
	public static function validate_relay_url( $value ) {
		$url = trim( is_string( $value ) ? $value : '' );
		if ( '' === $url ) {
			throw new InvalidArgumentException( __( 'Relay URL is required: the public_url of your relay, e.g. https://pay.example.com.', 'relay-payments' ) );
		}
		$parts  = wp_parse_url( $url );
		$scheme = is_array( $parts ) && isset( $parts['scheme'] ) ? strtolower( $parts['scheme'] ) : '';
		if ( ! in_array( $scheme, array( 'http', 'https' ), true ) || empty( $parts['host'] ) ) {
			throw new InvalidArgumentException( __( 'Relay URL must start with https:// (or http://) and name a host, e.g. https://pay.example.com.', 'relay-payments' ) );
		}
		if ( isset( $parts['query'] ) || isset( $parts['fragment'] ) || isset( $parts['user'] ) ) {
			throw new InvalidArgumentException( __( 'Relay URL must be the plain base address of the relay, without ?query, #fragment or user name.', 'relay-payments' ) );
		}
		return rtrim( $url, '/' );
	}

	/**
	 * Validate the store's name: the name of its [stores.<name>] table in the relay's config.
	 *
	 * @param mixed $value The posted value.
	 * @return string The name to store.
	 * @throws InvalidArgumentException With a message for the merchant when the name cannot be a store's.
	 */
	public static function validate_store( $value ) {
		$store = trim( is_string( $value ) ? $value : '' );
		if ( 1 !== preg_match( self::STORE_PATTERN, $store ) ) {
			throw new InvalidArgumentException( __( 'Store must be the name of the store in the relay\'s config ([stores.<name>]): lower-case letters, digits, "-" and "_", starting with a letter or digit.', 'relay-payments' ) );
		}
		return $store;
	}

	/**
	 * Validate the store's API token (its `api_token` in the relay's config).
	 *
	 * @param mixed $value The posted value.
	 * @return string The token to store.
	 * @throws InvalidArgumentException When the token is missing or cannot be sent in a header.
	 */
	public static function validate_api_token( $value ) {
		$token = trim( is_string( $value ) ? $value : '' );
		if ( '' === $token ) {
			throw new InvalidArgumentException( __( 'API token is required: the api_token of this store in the relay\'s config.', 'relay-payments' ) );
		}
		if ( 1 !== preg_match( '/^[\x21-\x7e]+$/', $token ) ) {
			throw new InvalidArgumentException( __( 'API token must be printable characters without spaces.', 'relay-payments' ) );
		}
		return $token;
	}
}
