<?php
/**
 * Stand-ins for the WordPress functions and classes the plugin calls, kept to their documented behaviour.
 *
 * Sources (WordPress/wordpress-develop, src/wp-includes/): plugin.php (hooks), option.php
 * (get_option/update_option), class-wp-error.php, http.php (wp_remote_*, wp_parse_url),
 * functions.php (wp_json_encode, add_query_arg, wp_nonce_url, wp_list_pluck), formatting.php
 * (sanitize_text_field, wp_unslash, esc_*), l10n.php (__). Only what the plugin uses is here.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting, Generic.Files.OneObjectStructurePerFile

define( 'ABSPATH', __DIR__ . '/' );
define( 'DAY_IN_SECONDS', 86400 ); // wp-includes/default-constants.php.

/**
 * In-memory state of the stand-ins, reset before each test.
 */
final class WP_Test_State {
	/** @var array<string, mixed> Options, as option.php stores them (by name). */
	public static $options = array();
	/** @var array<string, array<int, array{0: callable, 1: int}>> Hooks by name: callback and accepted args. */
	public static $hooks = array();
	/** @var callable|null Answers HTTP requests: fn( string $method, string $url, array $args ) => array|WP_Error. */
	public static $http = null;
	/** @var array<int, array{method: string, url: string, args: array}> Every HTTP request sent. */
	public static $requests = array();
	/** @var bool Whether wp_verify_nonce / current_user_can pass. */
	public static $authorised = true;

	public static function reset() {
		self::$options    = array();
		self::$requests   = array();
		self::$http       = null;
		self::$authorised = true;
	}
}

// l10n.php: __() returns the translation, here the text itself; esc_html__ escapes it too.
function __( $text, $domain = 'default' ) {
	return $text;
}
function esc_html__( $text, $domain = 'default' ) {
	return esc_html( $text );
}
function esc_html( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}
function esc_attr( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}
function esc_url( $url ) {
	return htmlspecialchars( (string) $url, ENT_QUOTES, 'UTF-8' );
}
function wp_kses_post( $data ) {
	return $data;
}

// formatting.php: wp_unslash strips slashes added by magic quotes; sanitize_text_field strips tags and trims.
function wp_unslash( $value ) {
	return is_string( $value ) ? stripslashes( $value ) : $value;
}
function sanitize_text_field( $str ) {
	return trim( strip_tags( (string) $str ) );
}

// option.php: get_option returns the stored value, or $default when the option does not exist.
function get_option( $option, $default = false ) {
	return array_key_exists( $option, WP_Test_State::$options ) ? WP_Test_State::$options[ $option ] : $default;
}
// option.php: update_option stores the value; false when it did not change.
function update_option( $option, $value, $autoload = null ) {
	if ( array_key_exists( $option, WP_Test_State::$options ) && WP_Test_State::$options[ $option ] === $value ) {
		return false;
	}
	WP_Test_State::$options[ $option ] = $value;
	return true;
}

// plugin.php: actions are filters whose return value is ignored; callbacks run by priority, then by order added.
function add_filter( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	WP_Test_State::$hooks[ $hook ][ $priority ][] = array( $callback, $accepted_args );
	return true;
}
function add_action( $hook, $callback, $priority = 10, $accepted_args = 1 ) {
	return add_filter( $hook, $callback, $priority, $accepted_args );
}
function apply_filters( $hook, $value, ...$args ) {
	if ( empty( WP_Test_State::$hooks[ $hook ] ) ) {
		return $value;
	}
	$by_priority = WP_Test_State::$hooks[ $hook ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as $entry ) {
			$value = call_user_func_array( $entry[0], array_slice( array_merge( array( $value ), $args ), 0, $entry[1] ) );
		}
	}
	return $value;
}
function do_action( $hook, ...$args ) {
	if ( empty( WP_Test_State::$hooks[ $hook ] ) ) {
		return;
	}
	$by_priority = WP_Test_State::$hooks[ $hook ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as $entry ) {
			call_user_func_array( $entry[0], array_slice( $args, 0, $entry[1] ) );
		}
	}
}
function has_action( $hook, $callback ) {
	foreach ( WP_Test_State::$hooks[ $hook ] ?? array() as $priority => $callbacks ) {
		foreach ( $callbacks as $entry ) {
			if ( $entry[0] === $callback ) {
				return $priority;
			}
		}
	}
	return false;
}
// plugin.php register_deactivation_hook(): the action deactivate_<plugin_basename( $file )>, e.g. dir/main.php.
function register_deactivation_hook( $file, $callback ) {
	add_action( 'deactivate_' . basename( dirname( $file ) ) . '/' . basename( $file ), $callback );
}

// class-wp-error.php: a code, a message and optional data per code.
class WP_Error {
	private $code;
	private $message;
	private $data;

	public function __construct( $code = '', $message = '', $data = '' ) {
		$this->code    = $code;
		$this->message = $message;
		$this->data    = $data;
	}
	public function get_error_code() {
		return $this->code;
	}
	public function get_error_message( $code = '' ) {
		return $this->message;
	}
	public function get_error_data( $code = '' ) {
		return $this->data;
	}
}
function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}

// functions.php: wp_json_encode is json_encode with a sanity check; false on failure.
function wp_json_encode( $data, $options = 0, $depth = 512 ) {
	return json_encode( $data, $options, $depth );
}
// http.php: wp_parse_url is parse_url with PHP-version quirks smoothed over.
function wp_parse_url( $url, $component = -1 ) {
	return parse_url( $url, $component );
}
function wp_list_pluck( $list, $field ) {
	$out = array();
	foreach ( $list as $key => $item ) {
		if ( is_array( $item ) && array_key_exists( $field, $item ) ) {
			$out[ $key ] = $item[ $field ];
		}
	}
	return $out;
}
function add_query_arg( $key, $value, $url = 'http://shop.test/wp-admin/admin.php?page=wc-settings' ) {
	return $url . ( false === strpos( $url, '?' ) ? '?' : '&' ) . rawurlencode( $key ) . '=' . rawurlencode( $value );
}
function wp_nonce_url( $url, $action = -1, $name = '_wpnonce' ) {
	return $url . '&' . $name . '=nonce-' . $action;
}
// pluggable.php: wp_verify_nonce answers 1 or 2 for a valid nonce, false otherwise.
function wp_verify_nonce( $nonce, $action = -1 ) {
	return WP_Test_State::$authorised && 'nonce-' . $action === $nonce ? 1 : false;
}
function current_user_can( $capability ) {
	return WP_Test_State::$authorised;
}
function plugins_url( $path = '', $plugin = '' ) {
	return 'http://shop.test/wp-content/plugins/relay-payments/' . ltrim( $path, '/' );
}
function wp_register_script( $handle, $src, $deps = array(), $ver = false, $in_footer = false ) {
	WP_Test_State::$options['__scripts'][ $handle ] = array( $src, $deps );
	return true;
}

/*
 * http.php / class-wp-http.php: wp_remote_get and wp_remote_post send the request and answer
 * array{headers, body, response: {code, message}, cookies, filename}, or WP_Error on a transport
 * failure (code http_request_failed). wp_remote_retrieve_response_code / _body answer '' for a
 * WP_Error or a malformed answer.
 */
function wp_remote_get( $url, $args = array() ) {
	return relay_test_send( 'GET', $url, $args );
}
function wp_remote_post( $url, $args = array() ) {
	return relay_test_send( 'POST', $url, $args );
}
function relay_test_send( $method, $url, $args ) {
	WP_Test_State::$requests[] = array(
		'method' => $method,
		'url'    => $url,
		'args'   => $args,
	);
	if ( null === WP_Test_State::$http ) {
		return new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect to relay.test port 443: Connection refused' );
	}
	return call_user_func( WP_Test_State::$http, $method, $url, $args );
}
function wp_remote_retrieve_response_code( $response ) {
	if ( is_wp_error( $response ) || ! isset( $response['response'] ) || ! is_array( $response['response'] ) ) {
		return '';
	}
	return $response['response']['code'];
}
function wp_remote_retrieve_body( $response ) {
	if ( is_wp_error( $response ) || ! isset( $response['body'] ) ) {
		return '';
	}
	return $response['body'];
}
/** An answer in WP_Http's shape. */
function relay_test_response( $code, $body ) {
	return array(
		'headers'  => array( 'content-type' => 'application/json' ),
		'body'     => is_string( $body ) ? $body : json_encode( $body ),
		'response' => array(
			'code'    => $code,
			'message' => '',
		),
		'cookies'  => array(),
		'filename' => null,
	);
}
