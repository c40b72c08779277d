<?php
/**
 * The relay's store API, as this plugin calls it.
 *
 * Routes (DESIGN.md "HTTP interface" and "The WooCommerce gateway plugin"), all with
 * `Authorization: Bearer <store api_token>`:
 * - POST {relay_url}/api/v1/stores/{store}/invoices: open (or get back) the order's invoice; 201 / 200.
 * - GET  {relay_url}/api/v1/stores/{store}/invoices/{id}: re-read one invoice of this store; 404 otherwise.
 * - POST {relay_url}/api/v1/stores/{store}/orders/{order id}/refunds: a refund request; 201 / 200.
 * Errors come back as `{"error": {"code", "message"}}` with a 4xx; an unknown store is code `unknown_store`.
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

/**
 * A thin client over WordPress's HTTP API (wp_remote_get / wp_remote_post).
 */
class Relay_Payments_Client {

	/**
	 * Seconds to wait for the relay; checkout waits this long at most.
	 */
	const TIMEOUT = 15;

	/**
	 * Invoice id used by the connection check: no invoice has it (relay ids are `inv_…`).
	 */
	const PROBE_INVOICE_ID = 'relay-connection-check';

	/**
	 * The relay's public_url, without a trailing slash.
	 *
	 * @var string
	 */
	private $relay_url;

	/**
	 * The store's name in the relay's config.
	 *
	 * @var string
	 */
	private $store;

	/**
	 * The store's api_token.
	 *
	 * @var string
	 */
	private $api_token;

	/**
	 * Build a client from the gateway's settings.
	 *
	 * @param array<string, string> $settings Settings as Relay_Payments_Settings::load() returns them.
	 */
	public function __construct( $settings ) {
		$this->relay_url = rtrim( $settings['relay_url'], '/' );
		$this->store     = $settings['store'];
		$this->api_token = $settings['api_token'];
	}

	/**
	 * Open the order's invoice, or get back the one that is still open.
	 *
	 * @param array<string, string> $order {order_id, order_key, order_number, amount (decimal string), currency, customer_email, return_url}.
	 * @return array<string, mixed>|WP_Error The invoice JSON (id, payment_url, status, …) or why not.
	 */
	public function create_invoice( $order ) {
		return $this->request( 'POST', $this->store_path( '/invoices' ), $order );
	}

	/**
	 * Re-read one of this store's invoices.
	 *
	 * @param string $invoice_id The relay's invoice id.
	 * @return array<string, mixed>|WP_Error The invoice JSON, or WP_Error `not_found` (data status 404) for an invoice this store does not have.
	 */
	public function get_invoice( $invoice_id ) {
		return $this->request( 'GET', $this->store_path( '/invoices/' . rawurlencode( $invoice_id ) ), null );
	}

	/**
	 * Open the refund request for one WooCommerce refund (idempotent per refund id on the relay).
	 *
	 * @param string                $order_id The WooCommerce order id.
	 * @param array<string, mixed>  $refund   {id (WooCommerce refund id, int), amount (decimal string), reason}.
	 * @return array<string, mixed>|WP_Error The refund JSON (address_url, status, …) or why not.
	 */
	public function create_refund( $order_id, $refund ) {
		return $this->request( 'POST', $this->store_path( '/orders/' . rawurlencode( $order_id ) . '/refunds' ), $refund );
	}

	/**
	 * Check URL, store and token with a read of an invoice id that does not exist.
	 *
	 * The relay answers 404 `not_found` when store and token are right (the invoice is unknown),
	 * 404 `unknown_store` for a store it does not serve, 401 for a wrong token.
	 *
	 * @return array{ok: bool, message: string}
	 */
	public function check_connection() {
		$answer = $this->get_invoice( self::PROBE_INVOICE_ID );
		if ( ! is_wp_error( $answer ) ) {
			return array(
				'ok'      => true,
				'message' => __( 'Connected: the relay knows this store and accepted the token.', 'relay-payments' ),
			);
		}
		$code   = $answer->get_error_code();
		$data   = $answer->get_error_data();
		$status = is_array( $data ) && isset( $data['status'] ) ? (int) $data['status'] : 0;
		if ( 'relay_unreachable' === $code ) {
			/* translators: %s: the transport error, e.g. "cURL error 7: Failed to connect" */
			$message = sprintf( __( 'The relay cannot be reached at this Relay URL: %s', 'relay-payments' ), $answer->get_error_message() );
		} elseif ( 'unknown_store' === $code ) {
			$message = __( 'The relay does not know this store: check Store against the [stores.<name>] tables of its config.', 'relay-payments' );
		} elseif ( 401 === $status || 403 === $status ) {
			$message = __( 'The relay refused the API token: copy this store\'s api_token from the relay\'s config.', 'relay-payments' );
		} elseif ( 404 === $status && 'not_found' === $code ) {
			return array(
				'ok'      => true,
				'message' => __( 'Connected: the relay knows this store and accepted the token.', 'relay-payments' ),
			);
		} elseif ( 404 === $status ) {
			$message = __( 'This Relay URL answers, but not as a relay (no store API there): check the address, or update the relay.', 'relay-payments' );
		} else {
			/* translators: 1: HTTP status, 2: the relay's message */
			$message = sprintf( __( 'The relay answered HTTP %1$d: %2$s', 'relay-payments' ), $status, $answer->get_error_message() );
		}
		return array(
			'ok'      => false,
			'message' => $message,
		);
	}

	/**
	 * Return the path of a store-scoped route.
	 *
	 * @param string $tail The rest of the path, starting with '/'.
	 * @return string
	 */
	private function store_path( $tail ) {
		return '/api/v1/stores/' . rawurlencode( $this->store ) . $tail;
	}

	/**
	 * Send one request and read the JSON answer.
	 *
	 * @param string                    $method GET or POST.
	 * @param string                    $path   The route's path.
	 * @param array<string, mixed>|null $body   JSON body for POST.
	 * @return array<string, mixed>|WP_Error The decoded 2xx answer; otherwise WP_Error whose code is
	 *         `relay_unreachable` (transport), the relay's error code, or `relay_bad_answer`, with data {status}.
	 */
	private function request( $method, $path, $body ) {
		$args = array(
			'timeout'     => self::TIMEOUT,
			'redirection' => 0,
			'headers'     => array(
				'Authorization' => 'Bearer ' . $this->api_token,
				'Accept'        => 'application/json',
			),
		);
		$url  = $this->relay_url . $path;
		if ( 'POST' === $method ) {
			$args['headers']['Content-Type'] = 'application/json';
			$args['body']                    = wp_json_encode( $body );
			$response                        = wp_remote_post( $url, $args );
		} else {
			$response = wp_remote_get( $url, $args );
		}
		if ( is_wp_error( $response ) ) {
			return new WP_Error( 'relay_unreachable', $response->get_error_message(), array( 'status' => 0 ) );
		}
		$status  = (int) wp_remote_retrieve_response_code( $response );
		$decoded = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		if ( $status >= 200 && $status < 300 ) {
			if ( ! is_array( $decoded ) ) {
				return new WP_Error( 'relay_bad_answer', __( 'The relay answered something that is not JSON.', 'relay-payments' ), array( 'status' => $status ) );
			}
			return $decoded;
		}
		$error = is_array( $decoded ) && isset( $decoded['error'] ) && is_array( $decoded['error'] ) ? $decoded['error'] : array();
		$code  = isset( $error['code'] ) && is_string( $error['code'] ) && '' !== $error['code'] ? $error['code'] : 'relay_bad_answer';
		/* translators: %d: HTTP status */
		$message = isset( $error['message'] ) && is_string( $error['message'] ) ? $error['message'] : sprintf( __( 'HTTP %d', 'relay-payments' ), $status );
		return new WP_Error( $code, $message, array( 'status' => $status ) );
	}
}
